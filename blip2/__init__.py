"""blip2: a clean PyTorch reference implementation of BLIP-2 (Li et al. 2023).

Frozen image encoders built with timm, the Q-Former with its stage-1 objectives,
and the stage-2 bridge to frozen OPT / FlanT5 models from transformers.
"""

from .api import (
    ParamCount,
    answer,
    caption,
    count_parameters,
    freeze_frozen_parts,
    image_transform,
    itc_scores,
    itm_scores,
    load_model,
    save_model,
)
from .config import Blip2Config, LLMConfig, QFormerConfig, VisionConfig
from .models.blip2_lm import Blip2LM, Blip2Opt, Blip2T5
from .models.blip2_qformer import Blip2Qformer
from .models.build import build_model

__version__ = "0.1.0"

__all__ = [
    "Blip2Config", "Blip2LM", "Blip2Opt", "Blip2Qformer", "Blip2T5", "LLMConfig", "ParamCount", "QFormerConfig",
    "VisionConfig", "answer", "build_model", "caption", "count_parameters", "freeze_frozen_parts",
    "image_transform", "itc_scores", "itm_scores", "load_model", "save_model",
]
