"""The index at 10 k, 100 k and 1 M chunks: build, disk, reopen, latency, recall, memory.

    nice -n 19 python evals/bench_scale.py [--sizes 10000 100000 1000000] [--queries 100]
        [--work /tmp/qa-scale] [--out evals/reports/bench_scale.json] [--resume]

Chunks are generated and their vectors derived from real MiniLM vectors (``evals.generated``
says how); the queries are real questions embedded by MiniLM. Each size is built once through
qa's own ``ChunkStore`` and the index steps ``qa.index`` runs, then every measurement runs in
a fresh process, so peak memory (``ru_maxrss``) belongs to that step alone:

- build: writing the chunks, the vector index (IVF-SQ, qa's choice; IVF-HNSW-SQ beside it on
  a copy), LanceDB's full-text index, and llama-index's in-memory BM25 (the alternative);
- open: reopening the store and the hybrid retriever, with either keyword side;
- dense top-10: exact scan against the vector index (recall@10, ties counted as hits);
- keyword and hybrid top-10 with either keyword side (hybrid takes the query vector ready,
  so query embedding, timed apart, is not counted twice);
- ``Assistant()`` in a fresh process on the index (imports included, as a user waits for it).

CPU time is reported beside wall time: on a shared machine wall time drifts, CPU time less.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
_BATCH_ARTICLES = 2_000


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def _size_mb(folder: Path) -> float:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file()) / 1e6


def _percentiles(seconds: list[float]) -> dict[str, float]:
    ordered = sorted(seconds)
    return {"p50_ms": 1000 * statistics.median(ordered),
            "p95_ms": 1000 * ordered[min(len(ordered) - 1, int(round(0.95 * (len(ordered) - 1))))]}


def _timed(function, *args):
    wall, cpu = time.perf_counter(), time.process_time()
    result = function(*args)
    return result, time.perf_counter() - wall, time.process_time() - cpu


# --- build ---------------------------------------------------------------------------------
def _chunks(first_article: int, count: int):
    """Chunks of generated articles as qa's chunker shapes them (one per paragraph, here)."""
    from llama_index.core.schema import NodeRelationship, RelatedNodeInfo, TextNode

    from evals.generated import generated_article
    from qa.chunking import GAP_BEFORE, article_metadata

    nodes, records = [], []
    for number in range(first_article, first_article + count):
        article = generated_article(number)
        start, position = 0, 0
        for paragraph in article.body.split("\n\n"):
            start = article.body.index(paragraph, start)
            node = TextNode(text=paragraph, id_=f"{article.article_id}#{position}",
                            metadata={**article_metadata(article), GAP_BEFORE: "\n\n" if position else ""},
                            start_char_idx=start, end_char_idx=start + len(paragraph))
            node.relationships[NodeRelationship.SOURCE] = RelatedNodeInfo(node_id=article.article_id)
            nodes.append(node)
            start += len(paragraph)
            position += 1
        records.append((article, position))
    return nodes, records


def stage_build(folder: Path, size: int) -> dict:
    from evals.generated import DerivedEmbedding
    from qa.index import ArticleRecord, _Manifest
    from qa.store import open_chunk_store

    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    embed = DerivedEmbedding()
    store = open_chunk_store(folder / "lance-1")
    generate = write = 0.0
    written, article, records = 0, 0, {}
    while written < size:
        started = time.perf_counter()
        nodes, made = _chunks(article, _BATCH_ARTICLES)
        nodes = nodes[: size - written]
        vectors = embed.embed([n.get_content(metadata_mode="embed") for n in nodes])
        for node, vector in zip(nodes, vectors):
            node.embedding = vector.tolist()
        generate += time.perf_counter() - started
        _, wall, _ = _timed(store.add, nodes)
        write += wall
        kept = {n.ref_doc_id for n in nodes}
        for item, chunks in made:
            if item.article_id in kept:
                records[item.article_id] = ArticleRecord(
                    article_id=item.article_id, title=item.title,
                    published=item.published.isoformat(), source="", content_hash=item.content_hash,
                    chunks=chunks)
        written += len(nodes)
        article += _BATCH_ARTICLES
    result = {"chunks": written, "articles": len(records), "generate_s": generate, "write_s": write}
    result["table_mb"] = _size_mb(folder / "lance-1")
    # IVF-HNSW-SQ beside qa's IVF-SQ, on a copy of the table (same data, same queries later).
    shutil.copytree(folder / "lance-1", folder / "lance-hnsw")
    _, result["vector_index_s"], result["vector_index_cpu_s"] = _timed(store.ensure_vector_index, 1)
    _, result["full_text_index_s"], result["full_text_index_cpu_s"] = _timed(store.ensure_text_index)
    result["store_mb"] = _size_mb(folder / "lance-1")
    result["build_peak_mb"] = _peak_mb()
    _Manifest(store_dir="lance-1", table_version=store.version(), bm25_dir=None,
              chunk_size=128, chunk_overlap=24, chunk_format=2,
              articles=records).write(folder / "manifest.json")
    return result


def stage_hnsw(folder: Path) -> dict:
    """The alternative vector index: IVF-HNSW-SQ (HNSW inside each partition), same partitions."""
    import math

    from lancedb.index import HnswSq

    from qa.store import open_chunk_store

    store = open_chunk_store(folder / "lance-hnsw")
    partitions = max(1, int(math.sqrt(store.count())))
    config = HnswSq(distance_type="l2", num_partitions=partitions)
    _, wall, cpu = _timed(lambda: store.table.create_index("vector", config=config))
    return {"hnsw_index_s": wall, "hnsw_index_cpu_s": cpu, "hnsw_peak_mb": _peak_mb()}


def stage_bm25(folder: Path) -> dict:
    from qa.retrieval import build_bm25
    from qa.store import open_chunk_store

    store = open_chunk_store(folder / "lance-1")
    started = time.perf_counter()
    nodes = store.all_nodes()
    retriever = build_bm25(nodes)
    shutil.rmtree(folder / "bm25", ignore_errors=True)
    retriever.persist(str(folder / "bm25"), show_progress=False)
    built = time.perf_counter() - started
    from qa.settings import Settings

    if store.count() < Settings().full_text_min_chunks:  # what qa itself would use at this size
        manifest = json.loads((folder / "manifest.json").read_text())
        manifest["bm25_dir"] = "bm25"
        (folder / "manifest.json").write_text(json.dumps(manifest))
    return {"bm25_build_s": built, "bm25_peak_mb": _peak_mb(),
            "bm25_mb": _size_mb(folder / "bm25")}


# --- queries -------------------------------------------------------------------------------
def _queries(count: int):
    import numpy as np

    from evals.generated import real_questions
    from qa.embedding import MiniLMEmbedding

    questions = real_questions()[:count]
    embed = MiniLMEmbedding()
    embed.embed(["warm up"])
    times, vectors = [], []
    for question in questions:
        started = time.perf_counter()
        vectors.append(embed.embed([question])[0])
        times.append(time.perf_counter() - started)
    return questions, np.stack(vectors), times, embed


def _recall(approximate: list, exact: list) -> float:
    """Recall@10 with ties: a hit is a result no farther than the exact 10th neighbour."""
    scores = []
    for found, truth in zip(approximate, exact):
        limit = max(truth) + 1e-6
        scores.append(sum(1 for d in found if d <= limit) / len(truth))
    return statistics.mean(scores)


def _exact_distances(table, vector):
    rows = (table.search(vector).bypass_vector_index().limit(10)
            .select(["id", "_distance"]).to_arrow())
    return rows["_distance"].to_pylist()


def _exact_distances_of(table, vector, ids: list[str]):
    import numpy as np

    quoted = ", ".join("'" + i.replace("'", "''") + "'" for i in ids)
    rows = table.search().where(f"id IN ({quoted})").select(["vector"]).limit(len(ids)).to_arrow()
    found = np.array(rows["vector"].to_pylist(), dtype=np.float32)
    return (((found - vector) ** 2).sum(axis=1)).tolist()


def stage_query(folder: Path, keyword: str, queries: int, exact: bool, store_dir: str) -> dict:
    from llama_index.core.schema import QueryBundle
    from llama_index.core.vector_stores.types import VectorStoreQuery

    from qa.retrieval import HybridRetriever
    from qa.settings import Settings
    from qa.store import open_chunk_store

    settings = Settings()
    manifest = json.loads((folder / "manifest.json").read_text())
    questions, vectors, embed_times, embed = _queries(queries)
    base_rss = _rss_mb()
    wall, cpu = time.perf_counter(), time.process_time()
    store = open_chunk_store(folder / store_dir, nprobes=settings.vector_nprobes,
                             refine_factor=settings.vector_refine_factor)
    if store_dir == "lance-1":
        store.pin(manifest["table_version"])
    retriever = HybridRetriever(store, folder / "bm25" if keyword == "bm25" else None, embed,
                                settings.candidates_per_retriever)
    result = {"open_s": time.perf_counter() - wall, "open_cpu_s": time.process_time() - cpu,
              "open_rss_mb": _rss_mb() - base_rss, "embed_query": _percentiles(embed_times)}

    def measure(function, items):
        outputs, walls, cpus = [], [], []
        for item in items:
            output, w, c = _timed(function, item)
            outputs.append(output)
            walls.append(w)
            cpus.append(c)
        return outputs, {**_percentiles(walls), "cpu_p50_ms": 1000 * statistics.median(cpus)}

    def dense(vector):
        hits = store.query(VectorStoreQuery(query_embedding=vector.tolist(), similarity_top_k=10))
        return hits.ids

    dense(vectors[0])
    found, result["dense"] = measure(dense, vectors)
    if exact:
        truth, result["dense_exact"] = measure(lambda v: _exact_distances(store.table, v), vectors)
        approximate = [_exact_distances_of(store.table, v, ids) for v, ids in zip(vectors, found)]
        result["recall_at_10"] = _recall(approximate, truth)
    if retriever._fusion is None:  # a copy with no keyword index: dense search only
        result["query_peak_mb"] = _peak_mb()
        return result
    keyword_retriever = retriever._fusion._retrievers[1]
    _, result["keyword"] = measure(lambda q: keyword_retriever.retrieve(q), questions)
    bundles = [QueryBundle(q, embedding=v.tolist()) for q, v in zip(questions, vectors)]
    retriever._fusion.similarity_top_k = 10
    _, result["hybrid"] = measure(lambda b: retriever._fusion.retrieve(b), bundles)
    _, result["term_weights"] = measure(
        lambda q: [retriever.term_weight(t) for t in q.lower().split()[:6]], questions[:20])
    result["query_peak_mb"] = _peak_mb()
    return result


def stage_assistant(folder: Path) -> dict:
    data_dir = folder.parent / (folder.name + "-data")
    index_dir = data_dir / "index"
    if not index_dir.exists():
        index_dir.parent.mkdir(parents=True, exist_ok=True)
        index_dir.symlink_to(folder)
    empty = data_dir / "no-seeds"
    empty.mkdir(exist_ok=True)
    code = ("import time, resource; t = time.perf_counter(); from qa import Assistant; "
            f"a = Assistant(data_dir={str(data_dir)!r}, seeds_dir={str(empty)!r}); "
            "t1 = time.perf_counter(); c1 = time.process_time(); "
            "a.ask('Where did the Normans settle?'); "
            "print(c1, t1 - t, time.perf_counter() - t1, time.process_time(), "
            "resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)")
    runs = []
    for _ in range(2):
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                             check=True, env={**os.environ, "PYTHONPATH": str(REPO)})
        runs.append([float(x) for x in out.stdout.split()[-5:]])
    # CPU time up to Assistant() returning, and up to the first answer (warm-up included).
    return {"assistant_cpu_s": statistics.median(r[0] for r in runs),
            "assistant_s": statistics.median(r[1] for r in runs),
            "first_answer_s": statistics.median(r[2] for r in runs),
            "first_answer_cpu_s": statistics.median(r[3] for r in runs),
            "assistant_peak_mb": max(r[4] for r in runs)}


# --- driver ----------------------------------------------------------------------------------
def _stage(*args: str) -> dict:
    out = subprocess.run([sys.executable, __file__, "--stage", *args], capture_output=True,
                         text=True, env={**os.environ, "PYTHONPATH": str(REPO), "RUST_LOG": "error"})
    if out.returncode:
        raise SystemExit(f"stage {args} failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def _built_stage(folder: Path, resume: bool, *args: str) -> dict:
    """A build stage's figures: run it, or with ``resume`` reuse those of its last whole run
    (kept beside the index it built; at 1 M chunks the builds take most of the half hour)."""
    record = folder / f"stage-{args[0]}.json"
    if resume and record.exists():
        return json.loads(record.read_text())
    result = _stage(args[0], str(folder), *args[1:])
    record.write_text(json.dumps(result))
    return result


def run_size(work: Path, size: int, queries: int, resume: bool = False) -> dict:
    folder = work / f"chunks-{size}"
    result = {"size": size}
    print(f"[{size}] build", flush=True)
    if not (resume and (folder / "stage-build.json").exists()):
        resume = False  # a new build: nothing after it can be reused
    result.update(_built_stage(folder, resume, "build", str(size)))
    print(f"[{size}] {result}", flush=True)
    result.update(_built_stage(folder, resume, "hnsw"))
    result.update(_built_stage(folder, resume, "bm25"))
    print(f"[{size}] indexes built", flush=True)
    result["query_fts"] = _stage("query", str(folder), "fts", str(queries), "1", "lance-1")
    result["query_bm25"] = _stage("query", str(folder), "bm25", str(queries), "0", "lance-1")
    result["query_hnsw"] = _stage("query", str(folder), "fts", str(queries), "1", "lance-hnsw")
    result.update(_stage("assistant", str(folder)))
    print(f"[{size}] {json.dumps(result)}", flush=True)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    parser.add_argument("--queries", type=int, default=100)
    parser.add_argument("--work", type=Path, default=Path("/tmp/qa-scale"))
    parser.add_argument("--out", type=Path, default=REPO / "evals" / "reports" / "bench_scale.json")
    parser.add_argument("--resume", action="store_true",
                        help="reuse the chunks and indexes built by an earlier run in --work, "
                        "with that run's build figures; measure the rest again")
    parser.add_argument("--stage", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.stage:
        name, folder, *rest = args.stage
        folder = Path(folder)
        if name == "build":
            result = stage_build(folder, int(rest[0]))
        elif name == "hnsw":
            result = stage_hnsw(folder)
        elif name == "bm25":
            result = stage_bm25(folder)
        elif name == "query":
            result = stage_query(folder, rest[0], int(rest[1]), rest[2] == "1", rest[3])
        else:
            result = stage_assistant(folder)
        print(json.dumps(result))
        return
    results = json.loads(args.out.read_text()) if args.out.exists() else {}
    for size in args.sizes:
        results[str(size)] = run_size(args.work, size, args.queries, args.resume)
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(results, indent=1))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
