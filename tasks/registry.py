"""The seven BLIP-2 benchmarks, with the settings of the paper and LAVIS's released eval configs."""

from __future__ import annotations

from tasks import loaders
from tasks.settings import GenerationSettings, RetrievalSettings
from tasks.task import SplitSpec, Task, frozen_mapping

# Zero-shot VQA (paper Sec. 4.1, LAVIS *_zeroshot eval configs). LAVIS's OPT code passes length_penalty 0;
# the paper states -1, which is what we default to.
_ZERO_SHOT_VQA = {
    family: GenerationSettings(
        prompt=prompt, image_size=224, num_beams=5, max_new_tokens=10, min_new_tokens=1, length_penalty=-1.0
    )
    for family, prompt in (("opt", "Question: {} Answer:"), ("t5", "Question: {} Short answer:"))
}
# Fine-tuned VQA (paper Table 8): image 490, this prompt for every LLM, beam 5; the paper gives no token
# limits or length penalty for it, so the zero-shot ones are kept.
_FINETUNED_VQA = {
    family: GenerationSettings(
        prompt="Question: {} Answer:",
        image_size=490,
        num_beams=5,
        max_new_tokens=10,
        min_new_tokens=1,
        length_penalty=-1.0,
    )
    for family in ("opt", "t5")
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
                for family in ("opt", "t5")
            }
        )
    }
)
RETRIEVAL = RetrievalSettings(image_size=364, k_test=128, max_text_tokens=35)

VQA_METRICS = ("accuracy", "accuracy_by_answer_type", "accuracy_by_question_type")
CAPTION_METRICS = ("BLEU-1", "BLEU-2", "BLEU-3", "BLEU-4", "METEOR", "ROUGE-L", "CIDEr", "SPICE")
RETRIEVAL_METRICS = ("TR@1", "TR@5", "TR@10", "IR@1", "IR@5", "IR@10", "TR_mean", "IR_mean", "R_mean")


def _coco_karpathy_options(karpathy_split: str, lavis_file: str) -> dict:
    return {
        "karpathy": "coco/annotations/dataset_coco.json",
        "lavis": f"coco/annotations/{lavis_file}",
        "karpathy_split": karpathy_split,
        "coco": True,
        "image_folder": "coco/images",
    }


VQAV2 = Task(
    name="vqav2",
    kind="vqa",
    description="VQAv2 open-ended VQA on COCO images (val scored locally; test-dev via EvalAI)",
    splits=(
        SplitSpec(
            name="val",
            description="VQAv2 val2014: 214,354 questions, scored locally",
            official_size=None,  # not in the reference facts yet: no run is confirmed complete
            files=(
                "vqav2/v2_OpenEnded_mscoco_val2014_questions.json",
                "vqav2/v2_mscoco_val2014_annotations.json",
            ),
            image_folder="coco/images/val2014",
            paper=(("Table 2", "VQAv2 val"),),
            options=frozen_mapping(
                {
                    "questions": "vqav2/v2_OpenEnded_mscoco_val2014_questions.json",
                    "annotations": "vqav2/v2_mscoco_val2014_annotations.json",
                    "image_folder": "coco/images/val2014",
                    "image_prefix": "COCO_val2014_",
                }
            ),
        ),
        SplitSpec(
            name="test-dev",
            description="VQAv2 test-dev2015: no public answers; produces the EvalAI submission file",
            files=("vqav2/v2_OpenEnded_mscoco_test-dev2015_questions.json",),
            image_folder="coco/images/test2015",
            paper=(
                ("Table 1", "VQAv2 test-dev"),
                ("Table 2", "VQAv2 test-dev"),
                ("Table 4", "VQAv2 test-dev"),
            ),
            has_answers=False,
            options=frozen_mapping(
                {
                    "questions": "vqav2/v2_OpenEnded_mscoco_test-dev2015_questions.json",
                    "image_folder": "coco/images/test2015",
                    "image_prefix": "COCO_test2015_",
                }
            ),
        ),
    ),
    default_split="val",
    image_size=224,
    metrics=VQA_METRICS,
    scorer="vqa",
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
            files=("okvqa/OpenEnded_mscoco_val2014_questions.json", "okvqa/mscoco_val2014_annotations.json"),
            image_folder="coco/images/val2014",
            paper=(("Table 2", "OK-VQA test"),),
            options=frozen_mapping(
                {
                    "questions": "okvqa/OpenEnded_mscoco_val2014_questions.json",
                    "annotations": "okvqa/mscoco_val2014_annotations.json",
                    "image_folder": "coco/images/val2014",
                    "image_prefix": "COCO_val2014_",
                }
            ),
        ),
    ),
    default_split="test",
    image_size=224,
    metrics=VQA_METRICS,
    scorer="vqa",
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
            files=("gqa/testdev_balanced_questions.json",),
            image_folder="gqa/images",
            paper=(("Table 2", "GQA test-dev"),),
            options=frozen_mapping(
                {"questions": "gqa/testdev_balanced_questions.json", "image_folder": "gqa/images"}
            ),
        ),
    ),
    default_split="test-dev",
    image_size=224,
    metrics=("accuracy",),
    scorer="gqa",
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
            files=("nocaps/nocaps_val_4500_captions.json",),
            image_folder="nocaps/images",
            paper=(("Table 1", "NoCaps val"), ("Table 3", "NoCaps val")),
            options=frozen_mapping(
                {"captions": "nocaps/nocaps_val_4500_captions.json", "image_folder": "nocaps/images"}
            ),
        ),
    ),
    default_split="val",
    image_size=364,
    metrics=(*CAPTION_METRICS, "by_domain"),
    scorer="nocaps",
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
        SplitSpec(
            name="karpathy-test",
            description="Karpathy test: 5,000 COCO val2014 images, 5 captions each",
            official_size=5_000,
            files=("coco/annotations/dataset_coco.json",),
            alternative_files=("coco/annotations/coco_karpathy_test.json",),
            image_folder="coco/images",
            paper=(("Table 3", "COCO Karpathy test"),),
            options=frozen_mapping(_coco_karpathy_options("test", "coco_karpathy_test.json")),
        ),
        SplitSpec(
            name="karpathy-val",
            description="Karpathy val: 5,000 COCO val2014 images (model selection, no paper row)",
            files=("coco/annotations/dataset_coco.json",),
            alternative_files=("coco/annotations/coco_karpathy_val.json",),
            image_folder="coco/images",
            options=frozen_mapping(_coco_karpathy_options("val", "coco_karpathy_val.json")),
        ),
    ),
    default_split="karpathy-test",
    image_size=364,
    metrics=CAPTION_METRICS,
    scorer="caption",
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
            files=("flickr30k/dataset_flickr30k.json",),
            alternative_files=("flickr30k/flickr30k_test.json",),
            image_folder="flickr30k/images",
            paper=(("Table 1", "Flickr30K zero-shot 1K test"), ("Table 5", "Flickr30K zero-shot 1K test")),
            options=frozen_mapping(
                {
                    "karpathy": "flickr30k/dataset_flickr30k.json",
                    "lavis": "flickr30k/flickr30k_test.json",
                    "karpathy_split": "test",
                    "coco": False,
                    "image_folder": "flickr30k/images",
                }
            ),
        ),
    ),
    default_split="test",
    image_size=364,
    metrics=RETRIEVAL_METRICS,
    scorer="retrieval",
    prediction_format="retrieval",
    loader=loaders.load_karpathy_retrieval,
    retrieval_settings=RETRIEVAL,
)

COCO_RETRIEVAL = Task(
    name="coco_retrieval",
    kind="retrieval",
    description="COCO 5K Karpathy test retrieval with the COCO-fine-tuned Q-Former",
    splits=(
        SplitSpec(
            name="test",
            description="Karpathy 5K test: 5,000 images, about 25,000 captions",
            official_size=5_000,
            files=("coco/annotations/dataset_coco.json",),
            alternative_files=("coco/annotations/coco_karpathy_test.json",),
            image_folder="coco/images",
            paper=(("Table 5", "COCO fine-tuned 5K test"), ("Table 6", "COCO fine-tuned 5K test")),
            options=frozen_mapping(_coco_karpathy_options("test", "coco_karpathy_test.json")),
        ),
    ),
    default_split="test",
    image_size=364,
    metrics=RETRIEVAL_METRICS,
    scorer="retrieval",
    prediction_format="retrieval",
    loader=loaders.load_karpathy_retrieval,
    retrieval_settings=RETRIEVAL,
)

TASKS: tuple[Task, ...] = (VQAV2, OKVQA, GQA, NOCAPS, COCO_CAPTION, FLICKR30K, COCO_RETRIEVAL)
