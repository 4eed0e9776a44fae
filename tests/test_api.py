"""The public Python API: its names, and that importing it is cheap."""

from __future__ import annotations

import subprocess
import sys

import qa


def test_public_names_are_exactly_these():
    assert sorted(qa.__all__) == sorted([
        "Assistant", "Chat", "Answer", "Citation", "Settings", "IndexResult", "ABSTAIN_TEXT",
        "QAError", "InvalidQuestionError", "ArticleError", "IndexBuildError", "BackendError",
        "BackendNotInstalledError", "BackendConfigError", "BackendUnavailableError",
        "AnswerInterruptedError", "ModelFileError", "SettingsError", "StoreError",
    ])
    for name in qa.__all__:
        assert getattr(qa, name) is not None


def test_every_error_is_a_qa_error():
    for name in qa.__all__:
        value = getattr(qa, name)
        if isinstance(value, type) and issubclass(value, Exception):
            assert issubclass(value, qa.QAError)


def test_import_and_help_load_no_heavy_library():
    code = ("import sys, qa, qa.cli; qa.cli.build_parser().format_help(); "
            "heavy = [m for m in ('llama_index.core', 'torch', 'onnxruntime', 'llama_cpp', "
            "'gradio', 'lancedb') if m in sys.modules]; print(heavy)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"


def test_unknown_setting_is_rejected(tmp_path):
    import pytest

    with pytest.raises(qa.SettingsError, match="top_kk"):
        qa.Assistant(data_dir=tmp_path, top_kk=3)
