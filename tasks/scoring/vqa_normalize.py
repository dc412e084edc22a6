"""Answer normalisation of the VQA evaluation scripts (GT-Vision-Lab/VQA ``vqaEval.py``).

The tables below are the facts of the official script (pre-2021 and current HEAD share them;
LAVIS ships the same ones). The functions reimplement its two steps so both scorer variants in
:mod:`tasks.scoring.vqa` can be built from them:

* :func:`process_punctuation` - the script's ``processPunctuation``;
* :func:`process_digit_article` - the script's ``processDigitArticle``.

Their quirks are kept on purpose, because the paper's numbers were produced with them:

* The "is this punctuation mark next to a space?" and "is there a comma between two digits?"
  tests look at the *input* text, and a comma between digits anywhere in the answer makes
  *every* punctuation mark be deleted instead of turned into a space ("1,000-2" -> "10002").
* Only ``.`` not followed by a digit is deleted ("3.5." -> "3.5", "U.S.A." -> "USA"), and at
  most 32 of them: the original passes ``re.UNICODE`` (== 32) where ``re.sub`` expects ``count``.
* Apostrophes and colons are not punctuation here; contractions are restored word by word
  *after* lower-casing, so the table's capitalised keys ("Im", "Ive") can never match.
"""

from __future__ import annotations

import re

# ---------------------------------------------------------------------------------------------
# Tables (facts of the official script).
# ---------------------------------------------------------------------------------------------

#: Punctuation marks handled by ``processPunctuation`` (note: no ``.``, ``'`` or ``:``).
PUNCTUATION: tuple[str, ...] = (
    ";", "/", "[", "]", '"', "{", "}", "(", ")", "=", "+", "\\", "_", "-", ">", "<", "@", "`", ",",
    "?", "!",
)

#: Number words mapped to digits (only these; "eleven" stays a word).
NUMBER_WORDS: dict[str, str] = {
    "none": "0", "zero": "0", "one": "1", "two": "2", "three": "3", "four": "4", "five": "5",
    "six": "6", "seven": "7", "eight": "8", "nine": "9", "ten": "10",
}

#: Words dropped by ``processDigitArticle``.
ARTICLES: frozenset[str] = frozenset({"a", "an", "the"})

#: Apostrophe-less spellings and their contraction. Kept exactly as the script has them,
#: including the unreachable capitalised keys and the reversed "somebody'd" entry.
CONTRACTIONS: dict[str, str] = {
    "aint": "ain't", "arent": "aren't", "cant": "can't", "couldve": "could've",
    "couldnt": "couldn't", "couldn'tve": "couldn't've", "couldnt've": "couldn't've",
    "didnt": "didn't", "doesnt": "doesn't", "dont": "don't", "hadnt": "hadn't",
    "hadnt've": "hadn't've", "hadn'tve": "hadn't've", "hasnt": "hasn't", "havent": "haven't",
    "hed": "he'd", "hed've": "he'd've", "he'dve": "he'd've", "hes": "he's", "howd": "how'd",
    "howll": "how'll", "hows": "how's", "Id've": "I'd've", "I'dve": "I'd've", "Im": "I'm",
    "Ive": "I've", "isnt": "isn't", "itd": "it'd", "itd've": "it'd've", "it'dve": "it'd've",
    "itll": "it'll", "let's": "let's", "maam": "ma'am", "mightnt": "mightn't",
    "mightnt've": "mightn't've", "mightn'tve": "mightn't've", "mightve": "might've",
    "mustnt": "mustn't", "mustve": "must've", "neednt": "needn't", "notve": "not've",
    "oclock": "o'clock", "oughtnt": "oughtn't", "ow's'at": "'ow's'at", "'ows'at": "'ow's'at",
    "'ow'sat": "'ow's'at", "shant": "shan't", "shed've": "she'd've", "she'dve": "she'd've",
    "she's": "she's", "shouldve": "should've", "shouldnt": "shouldn't",
    "shouldnt've": "shouldn't've", "shouldn'tve": "shouldn't've", "somebody'd": "somebodyd",
    "somebodyd've": "somebody'd've", "somebody'dve": "somebody'd've",
    "somebodyll": "somebody'll", "somebodys": "somebody's", "someoned": "someone'd",
    "someoned've": "someone'd've", "someone'dve": "someone'd've", "someonell": "someone'll",
    "someones": "someone's", "somethingd": "something'd", "somethingd've": "something'd've",
    "something'dve": "something'd've", "somethingll": "something'll", "thats": "that's",
    "thered": "there'd", "thered've": "there'd've", "there'dve": "there'd've",
    "therere": "there're", "theres": "there's", "theyd": "they'd", "theyd've": "they'd've",
    "they'dve": "they'd've", "theyll": "they'll", "theyre": "they're", "theyve": "they've",
    "twas": "'twas", "wasnt": "wasn't", "wed've": "we'd've", "we'dve": "we'd've",
    "weve": "we've", "werent": "weren't", "whatll": "what'll", "whatre": "what're",
    "whats": "what's", "whatve": "what've", "whens": "when's", "whered": "where'd",
    "wheres": "where's", "whereve": "where've", "whod": "who'd", "whod've": "who'd've",
    "who'dve": "who'd've", "wholl": "who'll", "whos": "who's", "whove": "who've",
    "whyll": "why'll", "whyre": "why're", "whys": "why's", "wont": "won't",
    "wouldve": "would've", "wouldnt": "wouldn't", "wouldnt've": "wouldn't've",
    "wouldn'tve": "wouldn't've", "yall": "y'all", "yall'll": "y'all'll", "y'allll": "y'all'll",
    "yall'd've": "y'all'd've", "y'alld've": "y'all'd've", "y'all'dve": "y'all'd've",
    "youd": "you'd", "youd've": "you'd've", "you'dve": "you'd've", "youll": "you'll",
    "youre": "you're", "youve": "you've",
}

# A comma between two digits anywhere in the answer ("1,000").
_DIGIT_COMMA_DIGIT = re.compile(r"\d,\d")
# A period that is not followed by a digit. (The original's "(?!<=\d)" is a lookahead that can
# never fail at a "." so it adds nothing; the rule is just "not followed by a digit".)
_PERIOD_NOT_BEFORE_DIGIT = re.compile(r"\.(?!\d)")
# The original passes re.UNICODE (== 32) in re.sub's ``count`` position.
_PERIOD_STRIP_MAX = int(re.UNICODE)


def process_punctuation(text: str) -> str:
    """Delete or space out punctuation, then strip periods, as ``processPunctuation`` does."""
    has_digit_comma = _DIGIT_COMMA_DIGIT.search(text) is not None
    out = text
    for mark in PUNCTUATION:
        # Decided on the *input* text, as in the original.
        touches_space = (mark + " ") in text or (" " + mark) in text
        out = out.replace(mark, "" if (touches_space or has_digit_comma) else " ")
    return _PERIOD_NOT_BEFORE_DIGIT.sub("", out, count=_PERIOD_STRIP_MAX)


def process_digit_article(text: str) -> str:
    """Lower-case, map number words, drop articles, restore contractions (``processDigitArticle``)."""
    words = [NUMBER_WORDS.get(w, w) for w in text.lower().split()]
    words = [w for w in words if w not in ARTICLES]
    return " ".join(CONTRACTIONS.get(w, w) for w in words)


def clean_whitespace(text: str) -> str:
    """Turn newlines and tabs into spaces and strip the ends (the scripts' first step)."""
    return text.replace("\n", " ").replace("\t", " ").strip()


def normalize_answer(text: str) -> str:
    """The full normalisation the pre-2021 script applies to every prediction."""
    return process_digit_article(process_punctuation(clean_whitespace(text)))
