"""Where each expected file is published, so a "missing file" error can say exactly what to fetch."""

from __future__ import annotations

_COCO_IMAGES = (
    "the COCO {folder} images (https://cocodataset.org/#download, {folder}.zip) unzipped into {dest}"
)

SOURCES: dict[str, str] = {
    "vqav2/v2_OpenEnded_mscoco_val2014_questions.json": (
        "https://visualqa.org/download.html: 'Validation questions 2017 v2.0' (v2_Questions_Val_mscoco.zip)"
    ),
    "vqav2/v2_mscoco_val2014_annotations.json": (
        "https://visualqa.org/download.html: 'Validation annotations 2017 v2.0' "
        "(v2_Annotations_Val_mscoco.zip)"
    ),
    "vqav2/v2_OpenEnded_mscoco_test-dev2015_questions.json": (
        "https://visualqa.org/download.html: 'Testing questions 2017 v2.0' (v2_Questions_Test_mscoco.zip)"
    ),
    "okvqa/OpenEnded_mscoco_val2014_questions.json": (
        "https://okvqa.allenai.org/download.html: testing questions "
        "(OpenEnded_mscoco_val2014_questions.json.zip)"
    ),
    "okvqa/mscoco_val2014_annotations.json": (
        "https://okvqa.allenai.org/download.html: testing annotations (mscoco_val2014_annotations.json.zip)"
    ),
    "gqa/testdev_balanced_questions.json": (
        "https://cs.stanford.edu/people/dorarad/gqa/download.html: 'Questions' (questions1.2.zip)"
    ),
    "gqa/images": "https://cs.stanford.edu/people/dorarad/gqa/download.html: 'Images' (images.zip)",
    "nocaps/nocaps_val_4500_captions.json": (
        "https://nocaps.org/download (https://s3.amazonaws.com/nocaps/nocaps_val_4500_captions.json)"
    ),
    "nocaps/images": (
        "the Open Images validation images listed in nocaps_val_4500_captions.json "
        "(https://nocaps.org/download; "
        "each entry's coco_url), saved under their file_name"
    ),
    "coco/annotations/dataset_coco.json": (
        "Karpathy's splits, https://cs.stanford.edu/people/karpathy/deepimagesent/ (caption_datasets.zip)"
    ),
    "flickr30k/dataset_flickr30k.json": (
        "Karpathy's splits, https://cs.stanford.edu/people/karpathy/deepimagesent/ (caption_datasets.zip)"
    ),
    "flickr30k/images": (
        "the Flickr30k images (flickr30k-images.tar.gz, by request at "
        "https://shannon.cs.illinois.edu/DenotationGraph/), files directly under flickr30k/images/"
    ),
    "coco/annotations/coco_karpathy_test.json": (
        "LAVIS: https://storage.googleapis.com/sfr-vision-language-research/datasets/coco_karpathy_test.json"
    ),
    "coco/annotations/coco_karpathy_val.json": (
        "LAVIS: https://storage.googleapis.com/sfr-vision-language-research/datasets/coco_karpathy_val.json"
    ),
    "flickr30k/flickr30k_test.json": (
        "LAVIS: https://storage.googleapis.com/sfr-vision-language-research/datasets/flickr30k_test.json"
    ),
    "coco/images/val2014": _COCO_IMAGES.format(folder="val2014", dest="coco/images/val2014/"),
    "coco/images/test2015": _COCO_IMAGES.format(folder="test2015", dest="coco/images/test2015/"),
    "coco/images/train2014": _COCO_IMAGES.format(folder="train2014", dest="coco/images/train2014/"),
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
