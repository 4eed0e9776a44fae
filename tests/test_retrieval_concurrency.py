"""Concurrent questions to one Assistant (as ``qa serve`` asks them) each get their own
number of passages."""

from __future__ import annotations

import threading


def test_concurrent_retrievals_each_get_their_own_top_k(shared_assistant):
    query = "Blinken hosted the foreign ministers of Armenia and Azerbaijan"
    counts: dict[int, list[int]] = {2: [], 5: []}

    def retrieve(top_k: int) -> None:
        for _ in range(25):
            counts[top_k].append(len(shared_assistant.retrieve(query, top_k)))

    threads = [threading.Thread(target=retrieve, args=(k,)) for k in counts]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=600)
    assert counts == {2: [2] * 25, 5: [5] * 25}
