"""Text-only training documents for the toy LLMs, and the project-made toy tokenizers.

The frozen LLMs of BLIP-2 learned language, and facts about the world, from text alone. The toy LLMs do
the same from the toy training sets: each document is a scene *described in words* (the context the
soft visual prompt later stands in for) followed by a caption of it, or by a question and its answer
in the prompt format of each LLM family. No document ever contains an image.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from pathlib import Path

import transformers
from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors, trainers

from tasks import sources
from tasks.formats import read_gqa_questions, read_karpathy, read_vqa_annotations, read_vqa_questions
from tasks.registry import ZERO_SHOT_VQA_PROMPTS
from toyworld.arch import LLM_VOCAB, QFORMER_VOCAB
from toyworld.data.config import (
    GQA_TRAIN_QUESTIONS,
    SCENES,
    TRAINING_SETS,
    VQAV2_TRAIN_ANNOTATIONS,
    VQAV2_TRAIN_QUESTIONS,
)
from toyworld.data.gqa_questions import gqa_questions
from toyworld.data.language import captions, describe, knowledge_sentences, okvqa_questions, vqa_questions
from toyworld.data.scenes import Scene

# The zero-shot VQA prompts of the paper (the tasks' own), which the toy LLMs learn as text formats.
OPT_QA = ZERO_SHOT_VQA_PROMPTS["opt"]
T5_QA = ZERO_SHOT_VQA_PROMPTS["t5"]
# Rounds of extra questions each training scene gets in the LLM corpus: every VQA, OK-VQA and GQA kind
# per round, drawn afresh. A web-scale LLM has read countless questions about scenes like these; a toy
# LLM needs many of them to learn to read a scene it is given (measured in docs/toy-models.md).
QUESTION_ROUNDS = 3
# The captioning prompt of the fine-tuned models (paper Sec. 4.2): web text often puts it before a
# caption, so the toy OPT sees it before some captions too.
CAPTION_PROMPT = "a photo of"


@dataclass(frozen=True)
class Doc:
    """A scene in words, then text about it: a caption, or a question (`prompt`) with its `answer`."""

    context: str
    text: str
    kind: str  # "caption", "qa" or "fact"
    question: str = ""
    prompt: str = ""  # a caption's lead-in (`CAPTION_PROMPT`), or none


def _training_scenes(root: Path) -> dict[str, Scene]:
    scenes = json.loads((root / SCENES).read_text(encoding="utf-8"))
    return {path: Scene.from_dict(s) for path, s in scenes.items() if s["set"] in TRAINING_SETS}


def scene_in_words(scene: Scene) -> str:
    """A scene as the toy LLMs read it: its complete description, as a sentence (the documents' context,
    and what the text reference and the position probe give them)."""
    return describe(scene) + "."


def _caption_docs(context: str, sentences: list[str]) -> list[Doc]:
    """An image's captions after its scene in words, every other one led by the captioning prompt."""
    return [Doc(context, sentence, "caption", prompt=CAPTION_PROMPT if i % 2 else "")
            for i, sentence in enumerate(sentences)]


def _generated_docs(key: str, scene: Scene, context: str, rounds: int) -> list[Doc]:
    """Questions of every kind about one training scene, and (for scenes with no caption file) captions,
    drawn from an RNG of their own so the data root's files are unchanged by the corpus."""
    docs: list[Doc] = []
    for r in range(rounds):
        rng = random.Random(f"llm-corpus:{key}:{r}")
        qas = vqa_questions(scene, rng, 5) + okvqa_questions(scene, rng, 3) + gqa_questions(scene, rng, 5)
        docs += [Doc(context, qa.answer, "qa", qa.question) for qa in qas]
    return docs


def toy_documents(data_root: str | Path, rounds: int = QUESTION_ROUNDS) -> list[Doc]:
    """Captions and question-answer pairs of the toy training sets, each after its scene in words: the
    training files' own, then `rounds` rounds of generated questions per training scene; and the world
    facts. Duplicates are dropped, so no (scene, text) pair weighs twice."""
    root = Path(data_root)
    scenes = _training_scenes(root)
    words = {path: scene_in_words(scene) for path, scene in scenes.items()}
    docs: list[Doc] = []
    captioned: set[str] = set()
    for split in ("train", "restval"):
        for image in read_karpathy(root / sources.COCO_KARPATHY, split=split, coco=True):
            key = f"{sources.COCO_IMAGES}/{image.filepath}/{image.filename}"
            if key in words:
                captioned.add(key)
                docs += _caption_docs(words[key], image.sentences)
    questions = read_vqa_questions(root / VQAV2_TRAIN_QUESTIONS)
    answers = read_vqa_annotations(root / VQAV2_TRAIN_ANNOTATIONS)
    for q in questions:
        context = words.get(f"{sources.COCO_TRAIN2014_IMAGES}/COCO_train2014_{q.image_id:012d}.jpg")
        if context is not None:
            docs.append(Doc(context, answers[q.question_id]["multiple_choice_answer"], "qa", q.question))
    for g in read_gqa_questions(root / GQA_TRAIN_QUESTIONS).values():
        context = words.get(f"{sources.GQA_IMAGES}/{g.image_id}.jpg")
        if context is not None:
            docs.append(Doc(context, g.answer, "qa", g.question))
    for key in sorted(scenes):
        docs += _generated_docs(key, scenes[key], words[key], rounds)
        if key not in captioned:  # GQA's images come with no captions: the generator's own, as for COCO
            sentences = captions(scenes[key], random.Random(f"llm-corpus:{key}:captions"))
            docs += _caption_docs(words[key], sentences)
    for line in knowledge_sentences():  # world facts (OK-VQA) with no scene: "question: ... answer: ..."
        question, _, answer = line.partition(" answer: ")
        if question.startswith("question: "):
            docs.append(Doc("", answer, "qa", question.removeprefix("question: ")))
        else:
            docs.append(Doc("", line, "fact"))
    return list(dict.fromkeys(docs))


def corpus_text(data_root: str | Path) -> list[str]:
    """Plain lines for tokenizer training: every context, caption, question and answer."""
    return corpus_lines(toy_documents(data_root))


def corpus_lines(docs: list[Doc]) -> list[str]:
    """`corpus_text` of documents already read (the LLM trainers read them once for both uses)."""
    lines = {d.context for d in docs} | {d.text for d in docs} | {d.question for d in docs}
    return sorted(x for x in lines if x) + [OPT_QA, T5_QA, CAPTION_PROMPT]


# --- tokenizers ------------------------------------------------------------------------------------


def opt_tokenizer(lines: list[str], vocab_size: int = LLM_VOCAB) -> transformers.PreTrainedTokenizerFast:
    """OPT-style byte-level BPE: `</s>` (id 2) prepended as bos, pad id 1, lower-cased, "\\n" one token."""
    tok = Tokenizer(models.BPE(unk_token=None))
    tok.normalizer = normalizers.Lowercase()
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=["<s>", "<pad>", "</s>", "<unk>"],
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    tok.train_from_iterator(lines, trainer=trainer)
    tok.post_processor = processors.TemplateProcessing(single="</s> $A", special_tokens=[("</s>", 2)])
    return transformers.PreTrainedTokenizerFast(tokenizer_object=tok, bos_token="</s>", eos_token="</s>",
                                                pad_token="<pad>", unk_token="<unk>")


def t5_tokenizer(lines: list[str], vocab_size: int = LLM_VOCAB) -> transformers.PreTrainedTokenizerFast:
    """T5-style BPE: pad 0, eos 1, unk 2, lower-cased, `</s>` appended to every text."""
    tok = Tokenizer(models.BPE(unk_token="<unk>"))
    tok.normalizer = normalizers.Lowercase()
    tok.pre_tokenizer = pre_tokenizers.Metaspace()
    tok.decoder = decoders.Metaspace()
    chars = sorted({c for line in lines for c in line.lower()} | set("0123456789abcdefghijklmnopqrstuvwxyz?.,:'"))
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=["<pad>", "</s>", "<unk>"],
                                  initial_alphabet=chars, show_progress=False)
    tok.train_from_iterator(lines, trainer=trainer)
    tok.post_processor = processors.TemplateProcessing(single="$A </s>", special_tokens=[("</s>", 1)])
    return transformers.PreTrainedTokenizerFast(tokenizer_object=tok, eos_token="</s>", pad_token="<pad>",
                                                unk_token="<unk>")


def qformer_tokenizer(lines: list[str]) -> transformers.PreTrainedTokenizerFast:
    """bert-base-uncased-style WordPiece over the toy words (+ characters), with `[DEC]` as bos."""
    words = sorted({w for line in lines for w in _bert_words(line)})
    chars = list("abcdefghijklmnopqrstuvwxyz0123456789?.,:;'-!")
    specials = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "[DEC]"]
    vocab_list = list(dict.fromkeys(specials + chars + ["##" + c for c in chars] + words))
    if len(vocab_list) > QFORMER_VOCAB:
        raise ValueError(f"toy Q-Former vocabulary has {len(vocab_list)} tokens > {QFORMER_VOCAB}")
    vocab = {t: i for i, t in enumerate(vocab_list)}
    tok = Tokenizer(models.WordPiece(vocab, unk_token="[UNK]"))
    tok.normalizer = normalizers.BertNormalizer(lowercase=True)
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tok.decoder = decoders.WordPiece()
    tok.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", special_tokens=[("[CLS]", vocab["[CLS]"]), ("[SEP]", vocab["[SEP]"])])
    fast = transformers.PreTrainedTokenizerFast(tokenizer_object=tok, unk_token="[UNK]", pad_token="[PAD]",
                                                cls_token="[CLS]", sep_token="[SEP]", mask_token="[MASK]",
                                                bos_token="[DEC]")
    return fast


def _bert_words(line: str) -> list[str]:
    out, word = [], ""
    for c in line.lower():
        if c.isalnum():
            word += c
        else:
            if word:
                out.append(word)
            word = ""
    return out + ([word] if word else [])


# --- token sequences -------------------------------------------------------------------------------


def _opt_body(doc: Doc) -> str:
    if doc.kind == "qa":
        return OPT_QA.format(doc.question) + " " + doc.text + "\n"
    return (f"{doc.prompt} {doc.text}" if doc.prompt else doc.text) + "\n"


def opt_sequence(tokenizer, doc: Doc) -> tuple[list[int], int]:
    """([scene in words] </s> [caption | "Question: q Answer: a"] "\\n", number of scene tokens): the soft
    prompt will take the place of the scene, and BLIP-2's OPT bridge puts `</s>` between the queries and
    the text. The scene tokens carry no loss (`llms.opt_labels`): the LLM is to use a scene it
    is given, as the soft prompt will be given, not to write scenes."""
    return opt_packed_sequence(tokenizer, [doc])


def opt_packed_sequence(tokenizer, docs: list[Doc]) -> tuple[list[int], int]:
    """One scene in words, `</s>`, then the texts of several documents about it, each ending in "\\n". The
    first text reads exactly as a zero-shot prompt does; the later ones read the same scene again, so one
    pass over the scene teaches several answers (a few times more learning per second than one each)."""
    context = docs[0].context
    if any(d.context != context for d in docs):
        raise ValueError("a packed OPT sequence holds documents about one scene only")
    scene = tokenizer(context, add_special_tokens=False).input_ids if context else []
    body = tokenizer("".join(_opt_body(d) for d in docs), add_special_tokens=False).input_ids
    return scene + [tokenizer.bos_token_id] + body, len(scene)


def opt_packed_sequences(tokenizer, docs: list[Doc], pack: int, seed: int = 0) -> list[tuple[list[int], int]]:
    """Every document once, in sequences of up to `pack` documents about the same scene (`opt_packed_sequence`;
    scene-less facts stay one per sequence), grouped in a seeded random order."""
    by_scene: dict[str, list[Doc]] = {}
    for doc in docs:
        by_scene.setdefault(doc.context, []).append(doc)
    rng = random.Random(seed)
    out = []
    for context, group in by_scene.items():
        group = list(group)
        rng.shuffle(group)
        size = pack if context else 1
        out += [opt_packed_sequence(tokenizer, group[i:i + size]) for i in range(0, len(group), size)]
    return out


def t5_pair(tokenizer, doc: Doc, rng: random.Random) -> tuple[list[int], list[int]]:
    """(encoder ids, decoder target ids): scene in words + prompt -> answer, or a caption prefix -> the rest
    (FlanT5's prefix-LM format of stage 2)."""
    if doc.kind == "qa":
        prompt, target = T5_QA.format(doc.question), doc.text
    else:
        words = doc.text.split()
        cut = rng.randint(0, len(words) - 1)
        prompt, target = " ".join(words[:cut]), " ".join(words[cut:])
    source = " ".join(x for x in (doc.context, prompt) if x)
    return tokenizer(source).input_ids, tokenizer(target).input_ids
