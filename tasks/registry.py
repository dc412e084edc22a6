"""The seven BLIP-2 benchmarks, with the settings of the paper and LAVIS's released eval configs."""

from __future__ import annotations

import dataclasses

from tasks import loaders
from tasks import sources as paths
from tasks.scorers import CAPTION, GQA_ACCURACY, NOCAPS_CAPTION, RECALL_AT_K, VQA_ACCURACY
from tasks.settings import LLM_FAMILIES, GenerationSettings, RetrievalSettings
from tasks.task import SplitSpec, Task, frozen_mapping

# The VQA prompts, by LLM family. Zero-shot (paper Sec. 4.1, LAVIS *_zeroshot eval configs): OPT gets
# "Answer:", FlanT5 "Short answer:". Fine-tuned (paper Table 8): the "Answer:" prompt for every LLM.
QA_PROMPT = "Question: {} Answer:"
ZERO_SHOT_VQA_PROMPTS = frozen_mapping({"opt": QA_PROMPT, "t5": "Question: {} Short answer:"})

# Zero-shot VQA: LAVIS's OPT code passes length_penalty 0; the paper states -1, which is what we default to.
_ZERO_SHOT_VQA = {
    family: GenerationSettings(
        prompt=prompt, image_size=224, num_beams=5, max_new_tokens=10, min_new_tokens=1, length_penalty=-1.0
    )
    for family, prompt in ZERO_SHOT_VQA_PROMPTS.items()
}
# Fine-tuned VQA (paper Table 8): image 490, one prompt for every LLM, beam 5; the paper gives no token
# limits or length penalty for it, so the zero-shot ones are kept.
_FINETUNED_VQA = {
    family: dataclasses.replace(settings, prompt=QA_PROMPT, image_size=490)
    for family, settings in _ZERO_SHOT_VQA.items()
}
VQA_VARIANTS = frozen_mapping(
    {"zero-shot": frozen_mapping(_ZERO_SHOT_VQA), "finetuned": frozen_mapping(_FINETUNED_VQA)}
)
# Captioning with the COCO-fine-tuned models (paper Table 7, LAVIS caption_coco eval configs); the
# paper-era code used length and repetition penalty 1.0 (later LAVIS changed them).
CAPTION_VARIANTS = frozen_mapping(
    {
        "default": frozen_mapping(
            {
                family: GenerationSettings(
                    prompt="a photo of",
                    image_size=364,
                    num_beams=5,
                    max_new_tokens=30,
                    min_new_tokens=8,
                    length_penalty=1.0,
                    repetition_penalty=1.0,
                )
                for family in LLM_FAMILIES
            }
        )
    }
)
RETRIEVAL = RetrievalSettings(image_size=364, k_test=128, max_text_tokens=35)

VQA_METRICS = ("accuracy", "accuracy_by_answer_type", "accuracy_by_question_type")
CAPTION_METRICS = ("BLEU-1", "BLEU-2", "BLEU-3", "BLEU-4", "METEOR", "ROUGE-L", "CIDEr", "SPICE")
RETRIEVAL_METRICS = ("TR@1", "TR@5", "TR@10", "IR@1", "IR@5", "IR@10", "TR_mean", "IR_mean", "R_mean")


def _coco_karpathy(
    name: str, karpathy_split: str, description: str, lavis_file: str, paper: tuple[tuple[str, str], ...] = (),
    official_size: int | None = 5_000, official_other: int | None = None,
) -> SplitSpec:
    """A COCO Karpathy split: Karpathy's file, else LAVIS's JSON for that split; images under coco/images."""
    return SplitSpec(
        name=name,
        description=description,
        files={"karpathy": paths.COCO_KARPATHY},
        alternative_files={"lavis": lavis_file},
        image_folder=paths.COCO_IMAGES,
        paper=paper,
        options={"karpathy_split": karpathy_split, "coco": True},
        official_size=official_size,
        official_other=official_other,
    )


VQAV2 = Task(
    name="vqav2",
    kind="vqa",
    description="VQAv2 open-ended VQA on COCO images (val scored locally; test-dev via EvalAI)",
    splits=(
        SplitSpec(
            name="val",
            description="VQAv2 val2014: 214,354 questions, scored locally",
            official_size=214_354,
            official_other=40_504,
            files={"questions": paths.VQAV2_VAL_QUESTIONS, "annotations": paths.VQAV2_VAL_ANNOTATIONS},
            image_folder=paths.COCO_VAL2014_IMAGES,
            paper=(("Table 2", "VQAv2 val"),),
            options={"image_prefix": "COCO_val2014_"},
        ),
        SplitSpec(
            name="test-dev",
            description="VQAv2 test-dev2015: no public answers; produces the EvalAI submission file",
            official_size=107_394,
            official_other=36_807,
            files={"questions": paths.VQAV2_TEST_DEV_QUESTIONS},
            image_folder=paths.COCO_TEST2015_IMAGES,
            paper=(
                ("Table 1", "VQAv2 test-dev"),
                ("Table 2", "VQAv2 test-dev"),
                ("Table 4", "VQAv2 test-dev"),
            ),
            has_answers=False,
            options={"image_prefix": "COCO_test2015_"},
        ),
    ),
    default_split="val",
    image_size=224,
    metrics=VQA_METRICS,
    scorer=VQA_ACCURACY,
    prediction_format="vqa",
    loader=loaders.load_vqa,
    variants=VQA_VARIANTS,
    default_variant="zero-shot",
    notes=("The 'lavis' VQA scorer (default) reproduces the paper; 'official' is the current VQA script.",),
)

OKVQA = Task(
    name="okvqa",
    kind="vqa",
    description="OK-VQA (outside-knowledge VQA); the paper's 'test' is the OK-VQA val2014 release",
    splits=(
        SplitSpec(
            name="test",
            description="OK-VQA val2014: 5,046 questions",
            official_size=5_046,
            official_other=5_046,
            files={"questions": paths.OKVQA_QUESTIONS, "annotations": paths.OKVQA_ANNOTATIONS},
            image_folder=paths.COCO_VAL2014_IMAGES,
            paper=(("Table 2", "OK-VQA test"),),
            options={"image_prefix": "COCO_val2014_"},
        ),
    ),
    default_split="test",
    image_size=224,
    metrics=VQA_METRICS,
    scorer=VQA_ACCURACY,
    prediction_format="vqa",
    loader=loaders.load_vqa,
    variants=VQA_VARIANTS,
    default_variant="zero-shot",
    notes=(
        "BLIP-2 lemmatized OK-VQA predictions with spaCy en_core_web_sm (NOUN/VERB lemmas): "
        "score with --lemmatize to reproduce the paper.",
    ),
)

GQA = Task(
    name="gqa",
    kind="vqa",
    description="GQA balanced test-dev; exact match after VQA normalisation",
    splits=(
        SplitSpec(
            name="test-dev",
            description="GQA testdev_balanced: 12,578 questions on 398 images",
            official_size=12_578,
            official_other=398,
            files={"questions": paths.GQA_TEST_DEV_QUESTIONS},
            image_folder=paths.GQA_IMAGES,
            paper=(("Table 2", "GQA test-dev"),),
        ),
    ),
    default_split="test-dev",
    image_size=224,
    metrics=("accuracy",),
    scorer=GQA_ACCURACY,
    prediction_format="gqa",
    loader=loaders.load_gqa,
    variants=VQA_VARIANTS,
    default_variant="zero-shot",
)

NOCAPS = Task(
    name="nocaps",
    kind="caption",
    description="NoCaps val, zero-shot transfer of the COCO-fine-tuned captioners; overall and per domain",
    splits=(
        SplitSpec(
            name="val",
            description="NoCaps val: 4,500 images (417 in-, 2,670 near-, 1,413 out-domain), 10 captions each",
            official_size=4_500,
            files={"captions": paths.NOCAPS_VAL_CAPTIONS},
            image_folder=paths.NOCAPS_IMAGES,
            paper=(("Table 1", "NoCaps val"), ("Table 3", "NoCaps val")),
        ),
    ),
    default_split="val",
    image_size=364,
    metrics=(*CAPTION_METRICS, "by_domain"),
    scorer=NOCAPS_CAPTION,
    prediction_format="caption",
    loader=loaders.load_nocaps,
    variants=CAPTION_VARIANTS,
    notes=(
        "The paper's NoCaps numbers come from the EvalAI server; locally each domain is scored on its own "
        "subset (CIDEr idf from that subset's references).",
    ),
)

COCO_CAPTION = Task(
    name="coco_caption",
    kind="caption",
    description="COCO captioning on the Karpathy splits (COCO-fine-tuned models)",
    splits=(
        _coco_karpathy("karpathy-test", "test", "Karpathy test: 5,000 COCO val2014 images, 5 captions each",
                       paths.COCO_LAVIS_TEST, paper=(("Table 3", "COCO Karpathy test"),)),
        _coco_karpathy("karpathy-val", "val",
                       "Karpathy val: 5,000 COCO val2014 images (model selection, no paper row)",
                       paths.COCO_LAVIS_VAL),
    ),
    default_split="karpathy-test",
    image_size=364,
    metrics=CAPTION_METRICS,
    scorer=CAPTION,
    prediction_format="caption",
    loader=loaders.load_karpathy_captions,
    variants=CAPTION_VARIANTS,
)

FLICKR30K = Task(
    name="flickr30k",
    kind="retrieval",
    description="Flickr30K 1K Karpathy test, zero-shot retrieval with the COCO-fine-tuned Q-Former",
    splits=(
        SplitSpec(
            name="test",
            description="Karpathy 1K test: 1,000 images, 5,000 captions",
            official_size=1_000,
            official_other=5_000,
            files={"karpathy": paths.FLICKR_KARPATHY},
            alternative_files={"lavis": paths.FLICKR_LAVIS_TEST},
            image_folder=paths.FLICKR_IMAGES,
            paper=(("Table 1", "Flickr30K zero-shot 1K test"), ("Table 5", "Flickr30K zero-shot 1K test")),
            options={"karpathy_split": "test", "coco": False},
        ),
    ),
    default_split="test",
    image_size=364,
    metrics=RETRIEVAL_METRICS,
    scorer=RECALL_AT_K,
    prediction_format="retrieval",
    loader=loaders.load_karpathy_retrieval,
    retrieval_settings=RETRIEVAL,
)

COCO_RETRIEVAL = Task(
    name="coco_retrieval",
    kind="retrieval",
    description="COCO 5K Karpathy test retrieval with the COCO-fine-tuned Q-Former",
    splits=(
        _coco_karpathy("test", "test", "Karpathy 5K test: 5,000 images, about 25,000 captions", paths.COCO_LAVIS_TEST,
                       paper=(("Table 5", "COCO fine-tuned 5K test"), ("Table 6", "COCO fine-tuned 5K test")),
                       official_other=25_010),
    ),
    default_split="test",
    image_size=364,
    metrics=RETRIEVAL_METRICS,
    scorer=RECALL_AT_K,
    prediction_format="retrieval",
    loader=loaders.load_karpathy_retrieval,
    retrieval_settings=RETRIEVAL,
)

# The registered tasks, in the paper's order: a new task is one more entry here.
TASKS: tuple[Task, ...] = (VQAV2, OKVQA, GQA, NOCAPS, COCO_CAPTION, FLICKR30K, COCO_RETRIEVAL)
