"""blip2: a clean PyTorch reference implementation of BLIP-2 (Li et al. 2023).

Frozen image encoders built with timm, the Q-Former with its stage-1 objectives,
and the stage-2 bridge to frozen OPT / FlanT5 models from transformers.

Names are imported on first use, so `import blip2.zoo` (or a CLI command that only needs the zoo)
does not pay for importing torch and transformers.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

_EXPORTS = {
    "ParamCount": ".api", "answer": ".api", "caption": ".api", "count_parameters": ".api",
    "freeze_frozen_parts": ".api", "image_transform": ".api", "itc_scores": ".api", "itm_scores": ".api",
    "load_model": ".api", "missing_weights": ".api", "save_model": ".api",
    "Blip2Config": ".config", "LLMConfig": ".config", "QFormerConfig": ".config", "VisionConfig": ".config",
    "Blip2LM": ".models.blip2_lm", "Blip2Opt": ".models.blip2_lm", "Blip2T5": ".models.blip2_lm",
    "Blip2Qformer": ".models.blip2_qformer", "build_model": ".models.build",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        value = getattr(importlib.import_module(_EXPORTS[name], __name__), name)
        globals()[name] = value
        return value
    try:  # submodules (blip2.api, blip2.zoo, ...) as attributes, like an eager package would have them
        return importlib.import_module(f".{name}", __name__)
    except ModuleNotFoundError:
        raise AttributeError(f"module 'blip2' has no attribute {name!r}") from None
