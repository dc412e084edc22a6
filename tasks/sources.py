"""Where each file a split reads lives under the data root, and where it is published.

The registry names its files by these constants, so each path is written once, and a "missing file"
error can say exactly what to fetch.
"""

from __future__ import annotations

# Every file and image folder the registered splits read, relative to the data root (stated once here).
VQAV2_VAL_QUESTIONS = "vqav2/v2_OpenEnded_mscoco_val2014_questions.json"
VQAV2_VAL_ANNOTATIONS = "vqav2/v2_mscoco_val2014_annotations.json"
VQAV2_TEST_DEV_QUESTIONS = "vqav2/v2_OpenEnded_mscoco_test-dev2015_questions.json"
OKVQA_QUESTIONS = "okvqa/OpenEnded_mscoco_val2014_questions.json"
OKVQA_ANNOTATIONS = "okvqa/mscoco_val2014_annotations.json"
GQA_TEST_DEV_QUESTIONS = "gqa/testdev_balanced_questions.json"
GQA_IMAGES = "gqa/images"
NOCAPS_VAL_CAPTIONS = "nocaps/nocaps_val_4500_captions.json"
NOCAPS_IMAGES = "nocaps/images"
COCO_KARPATHY = "coco/annotations/dataset_coco.json"
FLICKR_KARPATHY = "flickr30k/dataset_flickr30k.json"
FLICKR_IMAGES = "flickr30k/images"
COCO_LAVIS_TEST = "coco/annotations/coco_karpathy_test.json"
COCO_LAVIS_VAL = "coco/annotations/coco_karpathy_val.json"
FLICKR_LAVIS_TEST = "flickr30k/flickr30k_test.json"
COCO_VAL2014_IMAGES = "coco/images/val2014"
COCO_TEST2015_IMAGES = "coco/images/test2015"
COCO_TRAIN2014_IMAGES = "coco/images/train2014"
COCO_IMAGES = "coco/images"  # the Karpathy files name images as <val2014|train2014>/<file>

_COCO_IMAGES = (
    "the COCO {folder} images (https://cocodataset.org/#download, {folder}.zip) unzipped into {dest}"
)

SOURCES: dict[str, str] = {
    VQAV2_VAL_QUESTIONS: (
        "https://visualqa.org/download.html: 'Validation questions 2017 v2.0' (v2_Questions_Val_mscoco.zip)"
    ),
    VQAV2_VAL_ANNOTATIONS: (
        "https://visualqa.org/download.html: 'Validation annotations 2017 v2.0' "
        "(v2_Annotations_Val_mscoco.zip)"
    ),
    VQAV2_TEST_DEV_QUESTIONS: (
        "https://visualqa.org/download.html: 'Testing questions 2017 v2.0' (v2_Questions_Test_mscoco.zip)"
    ),
    OKVQA_QUESTIONS: (
        "https://okvqa.allenai.org/download.html: testing questions "
        "(OpenEnded_mscoco_val2014_questions.json.zip)"
    ),
    OKVQA_ANNOTATIONS: (
        "https://okvqa.allenai.org/download.html: testing annotations (mscoco_val2014_annotations.json.zip)"
    ),
    GQA_TEST_DEV_QUESTIONS: (
        "https://cs.stanford.edu/people/dorarad/gqa/download.html: 'Questions' (questions1.2.zip)"
    ),
    GQA_IMAGES: "https://cs.stanford.edu/people/dorarad/gqa/download.html: 'Images' (images.zip)",
    NOCAPS_VAL_CAPTIONS: (
        "https://nocaps.org/download (https://s3.amazonaws.com/nocaps/nocaps_val_4500_captions.json)"
    ),
    NOCAPS_IMAGES: (
        "the Open Images validation images listed in nocaps_val_4500_captions.json "
        "(https://nocaps.org/download; "
        "each entry's coco_url), saved under their file_name"
    ),
    COCO_KARPATHY: (
        "Karpathy's splits, https://cs.stanford.edu/people/karpathy/deepimagesent/ (caption_datasets.zip)"
    ),
    FLICKR_KARPATHY: (
        "Karpathy's splits, https://cs.stanford.edu/people/karpathy/deepimagesent/ (caption_datasets.zip)"
    ),
    FLICKR_IMAGES: (
        "the Flickr30k images (flickr30k-images.tar.gz, by request at "
        f"https://shannon.cs.illinois.edu/DenotationGraph/), files directly under {FLICKR_IMAGES}/"
    ),
    COCO_LAVIS_TEST: (
        "LAVIS: https://storage.googleapis.com/sfr-vision-language-research/datasets/coco_karpathy_test.json"
    ),
    COCO_LAVIS_VAL: (
        "LAVIS: https://storage.googleapis.com/sfr-vision-language-research/datasets/coco_karpathy_val.json"
    ),
    FLICKR_LAVIS_TEST: (
        "LAVIS: https://storage.googleapis.com/sfr-vision-language-research/datasets/flickr30k_test.json"
    ),
    COCO_VAL2014_IMAGES: _COCO_IMAGES.format(folder="val2014", dest=f"{COCO_VAL2014_IMAGES}/"),
    COCO_TEST2015_IMAGES: _COCO_IMAGES.format(folder="test2015", dest=f"{COCO_TEST2015_IMAGES}/"),
    COCO_TRAIN2014_IMAGES: _COCO_IMAGES.format(folder="train2014", dest=f"{COCO_TRAIN2014_IMAGES}/"),
}

DATA_ROOT_HINT = "(the data root is --data-root, else $BLIP2_DATA, else ./data; see docs/tasks.md)"


def where_published(relpath: str) -> str:
    """A short 'get it from' sentence for a path relative to the data root (or its folder)."""
    source = SOURCES.get(relpath)
    if source is None:
        for key, value in SOURCES.items():
            if relpath.startswith(key + "/"):
                source = value
                break
    return f"Get it from {source}." if source else ""
