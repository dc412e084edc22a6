"""Where released weights come from: the Hugging Face hub and LAVIS's storage bucket.

Both are tried with short timeouts; when neither the network nor a local copy
has the files, the error names exactly what was tried and where to put a copy.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import urllib.request
from pathlib import Path

from ..errors import ModelInputError

LAVIS_URL = "https://storage.googleapis.com/sfr-vision-language-research/LAVIS/models/BLIP2/"


class WeightsUnavailable(ModelInputError, RuntimeError):
    """Released weights could not be found locally or downloaded."""


def lavis_cache_dir() -> Path:
    """`$BLIP2_LAVIS_DIR`, else `~/.cache/blip2-bench/lavis`: where LAVIS .pth files are looked for."""
    return Path(os.environ.get("BLIP2_LAVIS_DIR", Path.home() / ".cache" / "blip2-bench" / "lavis"))


def _offline() -> bool:
    return os.environ.get("HF_HUB_OFFLINE", "0") not in ("0", "", "false") or os.environ.get(
        "BLIP2_OFFLINE", "0"
    ) not in ("0", "", "false")


def hf_snapshot(repo_id: str, local_only: bool = False) -> Path:
    """A local folder with the hub repo's files: the HF cache first, then (unless local_only) a download."""
    from huggingface_hub import snapshot_download

    try:
        return Path(snapshot_download(repo_id, local_files_only=True))
    except Exception:  # not cached: fall through to the network
        pass
    reason = "offline mode (HF_HUB_OFFLINE/BLIP2_OFFLINE is set)" if not local_only else "not in the local HF cache"
    if not (_offline() or local_only):
        os.environ.setdefault("HF_HUB_ETAG_TIMEOUT", "10")
        try:
            return Path(snapshot_download(repo_id, allow_patterns=_HF_PATTERNS))
        except Exception as exc:
            reason = f"{type(exc).__name__}: {str(exc).splitlines()[0][:200]}"
    raise WeightsUnavailable(
        f"could not get the Hugging Face repo {repo_id!r} ({reason}).\n"
        f"  Fix: on a machine with internet run `hf download {repo_id} --local-dir DIR`, copy DIR "
        f"here, and pass `--model DIR` (or `blip2.load_model('DIR')`); or put it in the HF cache (HF_HOME)."
    )


_HF_PATTERNS = ["*.json", "*.safetensors", "*.txt", "*.model", "tokenizer*", "*.bin"]


def lavis_file(name: str, local_only: bool = False) -> Path:
    """A LAVIS checkpoint file: from the local LAVIS folder, else (unless local_only) downloaded into it."""
    folder = lavis_cache_dir()
    path = folder / name
    if path.exists():
        return path
    url = LAVIS_URL + name
    reason = "offline mode (BLIP2_OFFLINE/HF_HUB_OFFLINE is set)" if not local_only else "not in the local folder"
    if not (_offline() or local_only):
        try:
            folder.mkdir(parents=True, exist_ok=True)
            with urllib.request.urlopen(url, timeout=10) as response, tempfile.NamedTemporaryFile(
                dir=folder, delete=False, suffix=".part"
            ) as tmp:
                shutil.copyfileobj(response, tmp)
            os.replace(tmp.name, path)
            return path
        except Exception as exc:
            reason = f"{type(exc).__name__}: {exc}"
    raise WeightsUnavailable(
        f"could not get the LAVIS checkpoint {name} from {url} ({reason}).\n"
        f"  Fix: download {url} on a machine with internet and put it at {path} "
        f"(or set BLIP2_LAVIS_DIR to the folder that holds it), or pass the file itself: "
        f"`--model /path/to/{name} --arch <zoo name>`."
    )
