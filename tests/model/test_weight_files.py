"""Our weight files: the same tensors always give the same bytes, a frozen part can be stored once in a file
that several models share, and `expect_sha256` names the file it vouches for."""

from __future__ import annotations

import pytest
import torch
from safetensors.torch import load_file

import blip2


def test_saving_the_same_model_again_gives_the_same_bytes(tiny_dir, tmp_path):
    """The safetensors library orders a header's metadata at random; our files must not change on a rebuild."""
    import subprocess
    import sys

    from blip2.checkpoints.weights_io import save_safetensors, sha256_file

    model = blip2.load_model(tiny_dir("t5", "wide"))
    digests = set()
    for i in range(6):
        digests.add(sha256_file(blip2.save_model(model, tmp_path / f"copy{i}") / "model.safetensors"))
    tensors = {"b": torch.arange(3.0), "a": torch.ones(2, dtype=torch.float16)}
    metadata = {"producer": "x", "format": "pt", "zeta": "1", "alpha": "2"}
    for i in range(6):  # in separate processes too: the library's hash map is seeded per process
        code = (f"import torch; from blip2.checkpoints.weights_io import save_safetensors; "
                f"save_safetensors({{'b': torch.arange(3.0), 'a': torch.ones(2, dtype=torch.float16)}}, "
                f"{str(tmp_path / f'p{i}.safetensors')!r}, {metadata!r})")
        subprocess.run([sys.executable, "-c", code], check=True)
    files = {sha256_file(tmp_path / f"p{i}.safetensors") for i in range(6)}
    save_safetensors(tensors, tmp_path / "here.safetensors", metadata)
    assert len(digests) == 1 and files == {sha256_file(tmp_path / "here.safetensors")}
    from safetensors import safe_open

    with safe_open(str(tmp_path / "here.safetensors"), "pt") as handle:  # still a valid file, metadata kept
        assert handle.metadata() == metadata
        assert torch.equal(handle.get_tensor("b"), tensors["b"]) and torch.equal(handle.get_tensor("a"), tensors["a"])


def test_a_frozen_part_can_be_stored_once_in_a_shared_file(tiny_dir, tmp_path):
    """Models that keep one LLM frozen need not each carry a copy: the folder names the file and its digest."""
    from blip2.checkpoints.checksum import ChecksumMismatch
    from blip2.checkpoints.keymap import model_keys
    from blip2.checkpoints.native import save_native
    from blip2.checkpoints.shared_parts import SharedPartError
    from blip2.checkpoints.weights_io import MissingWeightsError, save_safetensors, sha256_file

    model = blip2.load_model(tiny_dir("t5", "wide"))  # its LLM's tensors (tied ones once), in a file of their own
    llm = {k.removeprefix("llm."): model.state_dict()[k] for k in model_keys(model) if k.startswith("llm.")}
    shared = tmp_path / "backbones" / "llm.safetensors"
    shared.parent.mkdir()
    save_safetensors({k: v.contiguous() for k, v in llm.items()}, shared)
    folder = save_native(model, tmp_path / "models" / "mine", shared={"llm.": (shared, "")})
    own = load_file(str(folder / "model.safetensors"))
    assert own and not any(k.startswith("llm.") for k in own)
    again = blip2.load_model(folder)
    for (name, a), (_, b) in zip(model.state_dict().items(), again.state_dict().items(), strict=True):
        assert torch.equal(a, b), name
    assert again.source["files"] == [str(folder / "model.safetensors"), str(shared.resolve())]
    digest = sha256_file(shared)
    with pytest.raises(ChecksumMismatch, match="read from 2 weight files"):
        blip2.load_model(folder, expect_sha256=digest)
    assert blip2.load_model(folder, expect_sha256=f"llm.safetensors={digest}").source["checked_sha256"]["sha256"] \
        == digest

    changed = dict(llm)
    first = next(iter(changed))
    changed[first] = changed[first] + 1
    with pytest.raises(SharedPartError, match="differs from"):  # a trained part is not the shared one
        save_native(_with_llm(model, changed), tmp_path / "models" / "other", shared={"llm.": (shared, "")})
    save_safetensors({k: v.contiguous() for k, v in changed.items()}, shared)  # the backbone rebuilt since
    with pytest.raises(SharedPartError, match="rebuilt or replaced"):
        blip2.load_model(folder)
    shared.unlink()
    with pytest.raises(MissingWeightsError, match="llm.safetensors is missing"):
        blip2.load_model(folder)


def _with_llm(model, llm):
    """A copy of ``model`` whose LLM tensors are ``llm``."""
    import copy

    other = copy.deepcopy(model)
    other.llm.load_state_dict(llm, strict=False)
    return other


def test_expect_sha256_verifies_the_checkpoint(tiny_dir):
    from blip2.checkpoints.checksum import ChecksumMismatch
    from blip2.checkpoints.weights_io import sha256_file

    path = tiny_dir("itm", "base")
    good = sha256_file(path / "model.safetensors")
    model = blip2.load_model(path, expect_sha256=good)
    assert model.source["checked_sha256"] == {"file": str(path / "model.safetensors"), "sha256": good}
    assert blip2.load_model(path, expect_sha256=f"model.safetensors={good.upper()}").source["checked_sha256"]
    with pytest.raises(ChecksumMismatch, match="sha256 mismatch for .*model.safetensors"):
        blip2.load_model(path, expect_sha256="0" * 64)
    with pytest.raises(ChecksumMismatch, match="vision.pth=... names none"):
        blip2.load_model(path, expect_sha256=f"vision.pth={good}")


def test_a_digest_names_its_file_when_a_model_has_several(tmp_path):
    """Shards, or a LAVIS file with its ViT's: a bare digest matching "one of them" would hide which was checked."""
    from blip2.checkpoints.checksum import ChecksumMismatch, ExpectedDigest, verify_sha256
    from blip2.checkpoints.weights_io import sha256_file

    files = []
    for name, text in (("a/model.pth", "lavis"), ("b/vision.pth", "vit"), ("c/vision.pth", "other vit")):
        (tmp_path / name).parent.mkdir()
        (tmp_path / name).write_text(text)
        files.append(tmp_path / name)
    vit = sha256_file(files[1])
    with pytest.raises(ChecksumMismatch, match="read from 3 weight files .* FILE=HEX"):
        verify_sha256(files, vit)  # the digest is right, but of which file?
    with pytest.raises(ChecksumMismatch, match="names several"):
        verify_sha256(files, f"vision.pth={vit}")
    assert verify_sha256(files, f"b/vision.pth={vit}") == {"file": str(files[1]), "sha256": vit}
    with pytest.raises(ChecksumMismatch, match="mismatch for .*c/vision.pth"):
        verify_sha256(files, f"c/vision.pth={vit}")
    for bad in ("abc", "g" * 64, "=" + "0" * 64, "x=" + "0" * 63):
        with pytest.raises(ValueError, match="HEX or FILE=HEX"):
            ExpectedDigest.parse(bad)


def test_saving_a_model_does_not_record_how_its_tokenizer_was_loaded(tiny_dir, tmp_path):
    """transformers writes `local_files_only` (true under HF_HUB_OFFLINE) back into tokenizer_config.json;
    a save must give the same bytes online and offline, or a rebuild changes committed files."""
    import os
    import subprocess
    import sys

    source = tiny_dir("opt", "wide")
    folders = []
    for offline in ("1", "0"):
        out = tmp_path / f"offline{offline}"
        code = f"import blip2; blip2.save_model(blip2.load_model({str(source)!r}), {str(out)!r})"
        env = {**os.environ, "HF_HUB_OFFLINE": offline}
        subprocess.run([sys.executable, "-c", code], check=True, env=env)
        folders.append(out)
    names = sorted(str(f.relative_to(folders[0])) for f in folders[0].rglob("*") if f.is_file())
    assert "tokenizer/tokenizer_config.json" in names
    assert names == sorted(str(f.relative_to(folders[1])) for f in folders[1].rglob("*") if f.is_file())
    differing = [n for n in names if (folders[0] / n).read_bytes() != (folders[1] / n).read_bytes()]
    assert differing == []
    config = (folders[0] / "tokenizer" / "tokenizer_config.json").read_text()
    assert "local_files_only" not in config
    assert blip2.load_model(folders[0]).tokenizer("a cat").input_ids == blip2.load_model(source).tokenizer(
        "a cat").input_ids
