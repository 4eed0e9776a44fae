"""A short soak of one real ``qa serve`` (``evals/soak.py``, which runs the long one): clients
asking through the OpenAI-compatible API, streamed and not, and the Gradio API, while articles
are uploaded; no errors, every citation verbatim and from one index version."""

from __future__ import annotations

import pytest

from evals.soak import KINDS, run_soak

from .browser.qa_server import running_server

pytestmark = pytest.mark.slow


def test_a_short_soak_serves_every_request_with_verbatim_citations(data_dir, tmp_path):
    with running_server(data_dir, tmp_path / "serve") as server:
        result = run_soak(server.url, server.process.pid, tmp_path, clients=4, seconds=15,
                          upload_every=4, articles_per_upload=2)
        assert server.outside_connections() == []
    summary = result.summary()
    assert result.errors == [], summary["error_examples"]
    assert result.failed_checks == [], summary["check_examples"]
    assert not [u for u in result.uploads if u["error"]], result.uploads
    assert result.live_abstentions == []
    assert all(summary["latency"][kind]["n"] >= 1 for kind in KINDS), summary["latency"]
    assert result.uploads and summary["articles"]["end"] > summary["articles"]["start"]
    assert summary["citations_checked"] > 0
    memory = summary["memory_mb"]
    assert memory["end"] < 2 * memory["start"], memory  # no runaway growth
