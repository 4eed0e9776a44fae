"""The chunk store at scale: qa's LanceDB store next to a plain numpy scan, on random vectors.

    python evals/bench_store.py [--chunks 100000] [--queries 50]

Times writing the chunks through llama-index's vector-store interface, opening the store again
(as ``Assistant()`` does), and top-10 queries; the numpy scan is the floor for exact search.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chunks", type=int, default=100_000)
    parser.add_argument("--queries", type=int, default=50)
    args = parser.parse_args()

    from llama_index.core.schema import NodeRelationship, RelatedNodeInfo, TextNode
    from llama_index.core.vector_stores.types import VectorStoreQuery

    from qa.store import open_chunk_store

    rng = np.random.default_rng(0)
    vectors = rng.standard_normal((args.chunks, 384)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    text = "The ministers met at Blair House on November 7 to discuss a durable peace. " * 6
    folder = Path(tempfile.mkdtemp(prefix="qa-store-bench-"))

    store = open_chunk_store(folder)
    started = time.perf_counter()
    for first in range(0, args.chunks, 10_000):
        batch = []
        for i in range(first, min(first + 10_000, args.chunks)):
            node = TextNode(text=text, id_=f"a{i // 20}#{i}", embedding=vectors[i].tolist(),
                            metadata={"article_id": f"a{i // 20}", "title": "t", "published": ""},
                            start_char_idx=0, end_char_idx=len(text))
            node.relationships[NodeRelationship.SOURCE] = RelatedNodeInfo(node_id=f"a{i // 20}")
            batch.append(node)
        store.add(batch)
    write = time.perf_counter() - started

    started = time.perf_counter()
    store = open_chunk_store(folder)
    store.pin(store.version())
    opened = time.perf_counter() - started

    queries = rng.standard_normal((args.queries, 384)).astype(np.float32)
    lance_times, numpy_times = [], []
    for query in queries:
        started = time.perf_counter()
        store.query(VectorStoreQuery(query_embedding=query.tolist(), similarity_top_k=10))
        lance_times.append(time.perf_counter() - started)
        started = time.perf_counter()
        np.argpartition(vectors @ query, -10)[-10:]
        numpy_times.append(time.perf_counter() - started)
    size = sum(p.stat().st_size for p in folder.rglob("*") if p.is_file()) / 1e6
    lance_p50, numpy_p50 = statistics.median(lance_times), statistics.median(numpy_times)
    print(f"{args.chunks} chunks: write {write:.1f} s, {size:.0f} MB on disk, reopen {opened * 1000:.0f} ms")
    print(f"top-10 query p50: LanceDB (llama-index interface) {lance_p50 * 1000:.1f} ms, "
          f"numpy scan in memory {numpy_p50 * 1000:.1f} ms, ratio {lance_p50 / numpy_p50:.1f}x")


if __name__ == "__main__":
    main()
