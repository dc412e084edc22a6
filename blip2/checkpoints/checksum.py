"""`expect_sha256`: which weight file a user vouches for, and the check that it is the one on disk.

A model can be read from several files: the shards of a transformers folder, or a LAVIS file composed with its
frozen ViT's file. A bare digest that "matches one of them" would pass a checkpoint whose other files were
swapped, and the user would not know which file was checked. So a digest names its file (``NAME=HEX``, NAME
being the file's name or a path ending), and a bare ``HEX`` is accepted only for a model read from one file.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from ..errors import ModelInputError
from .weights_io import sha256_file

_HEX = re.compile(r"[0-9a-fA-F]{64}")
FORMAT_HINT = "HEX or FILE=HEX (64 hexadecimal characters, as `sha256sum model.safetensors` prints)"


class ChecksumMismatch(ModelInputError, ValueError):
    """The checkpoint on disk is not the one the user expected (corrupt, truncated or swapped)."""


@dataclass(frozen=True)
class ExpectedDigest:
    """A parsed ``[FILE=]HEX``: ``file`` is None for a bare digest."""

    sha256: str
    file: str | None = None

    @classmethod
    def parse(cls, spec: str) -> ExpectedDigest:
        """Raise ValueError, naming the expected form, for anything but ``HEX`` or ``FILE=HEX``."""
        file, _, digest = spec.rpartition("=")
        if not _HEX.fullmatch(digest) or (spec.count("=") and not file.strip()):
            raise ValueError(f"{spec!r} is not {FORMAT_HINT}")
        return cls(digest.lower(), file or None)

    def names(self, path: Path) -> bool:
        """Whether this digest is about ``path``: a bare digest is about any single file."""
        if self.file is None:
            return True
        name = self.file.replace("\\", "/")
        return Path(path).as_posix() == name or Path(path).as_posix().endswith("/" + name)

    def pick(self, files: Sequence[Path]) -> Path:
        """The one file of ``files`` this digest is about; ChecksumMismatch when it names none, or several."""
        listing = ", ".join(str(f) for f in files) or "no weight files"
        if self.file is None:
            if len(files) != 1:
                raise ChecksumMismatch(
                    f"the checkpoint is read from {len(files)} weight files ({listing}); say which one the digest "
                    f"is of: --expect-sha256 FILE=HEX, FILE being its name (e.g. {Path(files[0]).name}=HEX)"
                    if files else "the checkpoint has no weight file to check against --expect-sha256")
            return Path(files[0])
        found = [Path(f) for f in files if self.names(Path(f))]
        if len(found) != 1:
            what = "names none" if not found else "names several"
            raise ChecksumMismatch(f"--expect-sha256 {self.file}=... {what} of the checkpoint's weight files "
                                   f"({listing}); give a file name or a longer path ending")
        return found[0]


def verify_sha256(files: Sequence[Path], expected: str | ExpectedDigest) -> dict[str, str]:
    """Raise unless the file that ``expected`` names has that sha256; returns ``{"file", "sha256"}`` checked."""
    digest = expected if isinstance(expected, ExpectedDigest) else ExpectedDigest.parse(expected)
    path = digest.pick(files)
    found = sha256_file(path)
    if found != digest.sha256:
        raise ChecksumMismatch(f"sha256 mismatch for {path}: expected {digest.sha256}, found {found}. The file is "
                               "corrupt or not the checkpoint you meant; download it again or fix --expect-sha256.")
    return {"file": str(path), "sha256": found}
