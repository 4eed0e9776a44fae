"""``nprobes`` and ``refine_factor`` of the vector index swept on a table bench_scale built.

    python evals/sweep_vector_index.py [--folder /tmp/qa-scale/chunks-1000000] [--queries 100]
        [--configs 20:2 20:5 20:0 16:2 12:3] [--passes 2] [--no-prewarm]

For each ``nprobes:refine_factor`` (0: no refine step), the same real questions as
evals/bench_scale.py through ``ChunkStore.query``: wall p50/p95, CPU p50, and recall@10 against
LanceDB's exact scan (computed once and kept beside the table). Passes alternate the configs, so
a change in the machine's load hits each alike. Run ``bench_scale.py --sizes N`` first.
"""

from __future__ import annotations

import argparse
import pickle
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run as a script from a checkout

from evals.bench_scale import _exact_distances, _exact_distances_of, _percentiles, _queries, _recall  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--folder", type=Path, default=Path("/tmp/qa-scale/chunks-1000000"))
    parser.add_argument("--queries", type=int, default=100)
    parser.add_argument("--configs", nargs="+", default=["20:2", "20:5", "20:0", "16:2", "12:3"])
    parser.add_argument("--passes", type=int, default=2)
    parser.add_argument("--no-prewarm", action="store_true")
    args = parser.parse_args()

    from llama_index.core.vector_stores.types import VectorStoreQuery

    from qa.store import open_chunk_store

    _, vectors, _, _ = _queries(args.queries)
    store = open_chunk_store(args.folder / "lance-1")
    truth_file = args.folder / f"exact-top10-{args.queries}.pkl"
    if truth_file.exists():
        truth = pickle.loads(truth_file.read_bytes())
    else:
        truth = [_exact_distances(store.table, v) for v in vectors]
        truth_file.write_bytes(pickle.dumps(truth))
    if not args.no_prewarm:
        store.prewarm()
    for number in range(args.passes):
        for config in args.configs:
            nprobes, refine = (int(x) for x in config.split(":"))
            store.nprobes, store.refine_factor = nprobes, refine or None
            walls, cpus, found = [], [], []
            for vector in vectors:
                wall, cpu = time.perf_counter(), time.process_time()
                hits = store.query(VectorStoreQuery(query_embedding=vector.tolist(),
                                                    similarity_top_k=10))
                walls.append(time.perf_counter() - wall)
                cpus.append(time.process_time() - cpu)
                found.append(hits.ids)
            recall = _recall([_exact_distances_of(store.table, v, ids)
                              for v, ids in zip(vectors, found)], truth)
            p = _percentiles(walls)
            print(f"pass {number + 1}  nprobes {nprobes:>3}  refine {refine or '-':>2}  "
                  f"p50 {p['p50_ms']:6.1f} ms  p95 {p['p95_ms']:6.1f} ms  "
                  f"CPU p50 {1000 * statistics.median(cpus):6.1f} ms  recall@10 {recall:.3f}",
                  flush=True)


if __name__ == "__main__":
    main()
