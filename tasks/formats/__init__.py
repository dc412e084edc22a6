"""Readers, validators and writers for the official benchmark file formats, one module per format.

Readers return small typed records and raise :class:`tasks.errors.DataError` naming the file, the
field and the expected layout. Writers produce files in exactly the official layout; tests and the
toy-data generator use them to build fixtures.
"""

from tasks.formats.gqa import GqaQuestion, read_gqa_questions, write_gqa_questions, write_gqa_results
from tasks.formats.karpathy import KarpathyImage, read_karpathy, write_karpathy
from tasks.formats.lavis_json import LavisCaptionEntry, read_lavis_captions, write_lavis_captions
from tasks.formats.nocaps import NOCAPS_DOMAINS, NocapsImage, read_nocaps, write_nocaps
from tasks.formats.predictions import (
    read_caption_predictions,
    read_gqa_predictions,
    read_retrieval_scores,
    read_vqa_predictions,
    write_caption_results,
    write_retrieval_scores,
)
from tasks.formats.vqa import (
    VqaQuestion,
    read_vqa_annotations,
    read_vqa_questions,
    write_vqa_annotations,
    write_vqa_questions,
    write_vqa_results,
)

__all__ = [
    "NOCAPS_DOMAINS",
    "GqaQuestion",
    "KarpathyImage",
    "LavisCaptionEntry",
    "NocapsImage",
    "VqaQuestion",
    "read_caption_predictions",
    "read_gqa_predictions",
    "read_gqa_questions",
    "read_karpathy",
    "read_lavis_captions",
    "read_nocaps",
    "read_retrieval_scores",
    "read_vqa_annotations",
    "read_vqa_predictions",
    "read_vqa_questions",
    "write_caption_results",
    "write_gqa_questions",
    "write_gqa_results",
    "write_karpathy",
    "write_lavis_captions",
    "write_nocaps",
    "write_retrieval_scores",
    "write_vqa_annotations",
    "write_vqa_questions",
    "write_vqa_results",
]
