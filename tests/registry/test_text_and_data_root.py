"""Text preprocessing and the data-root precedence rules."""

from __future__ import annotations

from pathlib import Path

from tasks import preprocess_caption, preprocess_question, resolve_data_root
from tasks.data_root import describe_data_root


def test_question_preprocessing_removes_listed_chars_and_keeps_question_mark():
    assert preprocess_question('What\'s "THIS" (thing)? #1: ok; ~!*.') == "what's this thing? 1 ok"
    assert preprocess_question("a b c d", max_words=2) == "a b"


def test_caption_preprocessing_replaces_chars_by_spaces_and_caps_words():
    assert preprocess_caption("A dog.Running  (fast)!\n") == "a dog running fast"
    long_caption = " ".join(f"w{i}" for i in range(60))
    assert preprocess_caption(long_caption).split() == [f"w{i}" for i in range(50)]


def test_argument_beats_environment_beats_default(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    env = {"BLIP2_DATA": str(tmp_path / "from_env")}
    assert resolve_data_root(str(tmp_path / "from_arg"), env) == tmp_path / "from_arg"
    assert resolve_data_root(None, env) == tmp_path / "from_env"
    assert resolve_data_root(None, {}) == tmp_path / "data"
    assert resolve_data_root(None, {"BLIP2_DATA": ""}) == tmp_path / "data"
    assert describe_data_root(None, env)[1] == "$BLIP2_DATA"


def test_real_environment_is_used_and_relative_paths_become_absolute(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("BLIP2_DATA", "rel/data")
    assert resolve_data_root(None) == tmp_path / "rel" / "data"
    assert resolve_data_root("~/x") == Path.home() / "x"
