"""Concurrent questions to one Assistant (as ``qa serve`` asks them) each get their own
number of passages, more than each retriever proposes by default included."""

from __future__ import annotations

import threading


def test_concurrent_retrievals_each_get_their_own_top_k(shared_assistant):
    query = "Blinken hosted the foreign ministers of Armenia and Azerbaijan"
    # 20 is more than the 10 hits BM25 and the vectors each propose by default, which fused
    # gave 13 passages here: a deeper request searches deeper.
    counts: dict[int, list[int]] = {2: [], 5: [], 20: []}

    def retrieve(top_k: int) -> None:
        for _ in range(25):
            counts[top_k].append(len(shared_assistant.retrieve(query, top_k)))

    threads = [threading.Thread(target=retrieve, args=(k,)) for k in counts]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=600)
    assert counts == {2: [2] * 25, 5: [5] * 25, 20: [20] * 25}
