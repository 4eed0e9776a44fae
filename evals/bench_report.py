"""evals/reports/bench.md and bench.svg from the JSON the scale, ingest, serve and embedding
benchmarks wrote.

    python evals/bench_report.py [--reports evals/reports] [--notes evals/bench_notes.md]

The chart is a small SVG drawn here (matplotlib is not a dependency of qa): top-10 query CPU
time per size, exact scan against qa's vector index, and in-memory BM25 against LanceDB's
full-text index, on a log scale.
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def _load(folder: Path, name: str) -> dict | None:
    path = folder / name
    return json.loads(path.read_text()) if path.exists() else None


def _load_average(result: dict) -> str:
    """The 1, 5 and 15 minute load averages a benchmark recorded, as "2.0, 2.3, 2.3"."""
    return ", ".join(f"{v:.1f}" for v in result["load_average"])


def _ms(value: float | None) -> str:
    return "–" if value is None else (f"{value:.1f}" if value < 100 else f"{value:.0f}")


def _qa_index(result: dict) -> str:
    """The vector index qa built in this result's run: IVF-HNSW-SQ until the 1 M run showed
    IVF-SQ better (those runs measured IVF-SQ on the copy, as ``query_ivfsq``)."""
    return "IVF-HNSW-SQ" if "query_ivfsq" in result else "IVF-SQ"


def _dense(result: dict, index: str) -> dict:
    """The query figures of one vector index, whichever of the two was qa's in that run."""
    if index == _qa_index(result):
        return result["query_fts"]
    return result["query_ivfsq"] if index == "IVF-SQ" else result["query_hnsw"]


def _build_cpu(result: dict, index: str) -> float:
    if index == _qa_index(result):
        return result["vector_index_cpu_s"]
    return result["ivfsq_index_cpu_s"] if index == "IVF-SQ" else result["hnsw_index_cpu_s"]


def scale_table(scale: dict) -> list[str]:
    sizes = sorted(scale.values(), key=lambda r: r["size"])
    head = "| | " + " | ".join(f"{r['size']:,} chunks" for r in sizes) + " |"
    lines = [head, "|---" * (len(sizes) + 1) + "|"]

    def row(label: str, cell) -> None:
        values = []
        for r in sizes:
            try:
                values.append(cell(r))
            except (KeyError, TypeError):
                values.append("–")
        lines.append(f"| {label} | " + " | ".join(values) + " |")

    row("write chunks (wall s)", lambda r: f"{r['write_s']:.0f}")
    row("qa's vector index (the other: its alternative, on a copy)", lambda r: _qa_index(r))
    row("vector index IVF-SQ / IVF-HNSW-SQ build (CPU s)",
        lambda r: f"{_build_cpu(r, 'IVF-SQ'):.1f} / {_build_cpu(r, 'IVF-HNSW-SQ'):.1f}")
    row("full-text index build (CPU s) / BM25 build (wall s)",
        lambda r: f"{r['full_text_index_cpu_s']:.1f} / {r['bm25_build_s']:.0f}")
    row("peak memory: build / BM25 build (MB)",
        lambda r: f"{r['build_peak_mb']:.0f} / {r['bm25_peak_mb']:.0f}")
    row("on disk: store with indexes / BM25 (MB)",
        lambda r: f"{r['store_mb']:.0f} / {r['bm25_mb']:.0f}")
    row("reopen store + retriever, full-text / BM25 (CPU s)",
        lambda r: f"{r['query_fts']['open_cpu_s']:.2f} / {r['query_bm25']['open_cpu_s']:.2f}")
    row("memory after reopen, full-text / BM25 (MB)",
        lambda r: f"{r['query_fts']['open_rss_mb']:.0f} / {r['query_bm25']['open_rss_mb']:.0f}")
    row("dense top-10 exact scan, CPU p50 (ms)",
        lambda r: _ms(r['query_fts']['dense_exact']['cpu_p50_ms']))
    for name in ("IVF-SQ", "IVF-HNSW-SQ"):
        row(f"dense top-10 {name}, CPU p50 (ms)",
            lambda r, n=name: _ms(_dense(r, n)['dense']['cpu_p50_ms']))
        row(f"dense top-10 {name}, wall p50 / p95 (ms)",
            lambda r, n=name: f"{_ms(_dense(r, n)['dense']['p50_ms'])} / "
                              f"{_ms(_dense(r, n)['dense']['p95_ms'])}")
    row("recall@10 IVF-SQ / IVF-HNSW-SQ", lambda r: f"{_dense(r, 'IVF-SQ')['recall_at_10']:.3f} / "
        f"{_dense(r, 'IVF-HNSW-SQ')['recall_at_10']:.3f}")
    row("keyword top-10 full-text / BM25, CPU p50 (ms)",
        lambda r: f"{_ms(r['query_fts']['keyword']['cpu_p50_ms'])} / "
                  f"{_ms(r['query_bm25']['keyword']['cpu_p50_ms'])}")
    row("hybrid top-10 full-text / BM25, CPU p50 (ms)",
        lambda r: f"{_ms(r['query_fts']['hybrid']['cpu_p50_ms'])} / "
                  f"{_ms(r['query_bm25']['hybrid']['cpu_p50_ms'])}")
    row("hybrid top-10 full-text / BM25, wall p95 (ms)",
        lambda r: f"{_ms(r['query_fts']['hybrid']['p95_ms'])} / {_ms(r['query_bm25']['hybrid']['p95_ms'])}")
    row("query embedding, wall p50 (ms)", lambda r: _ms(r['query_fts']['embed_query']['p50_ms']))
    row("peak memory while querying, full-text / BM25 (MB)",
        lambda r: f"{r['query_fts']['query_peak_mb']:.0f} / {r['query_bm25']['query_peak_mb']:.0f}")
    row("`Assistant()` fresh process, CPU / wall (s)",
        lambda r: f"{r['assistant_cpu_s']:.2f} / {r['assistant_s']:.1f}")
    return lines


def embedding_table(result: dict) -> list[str]:
    """Chunks/s of each embedder, and qa's beside the baseline's from the same rounds."""
    base = result["baseline"]
    lines = [f"{result['chunks']} chunks of up to {result['chunk_size']} MiniLM tokens (the seed "
             f"articles), {result['rounds']} interleaved rounds, {result['date']}, {result['cpu']}, "
             f"{result['usable_cpus']} cores; load average at the end "
             f"{_load_average(result)}.", "",
             "| embedder | chunks/s | per CPU second | × the baseline, wall / CPU | cosine to it, min |",
             "|---|---|---|---|---|"]
    for name, figures in result["contenders"].items():
        ratio = ("baseline" if name == base else
                 f"{figures['wall_ratio']:.2f}× / {figures['cpu_ratio']:.2f}×")
        cosine = "–" if name == base else f"{figures['cosine_min']:.4f}"
        lines.append(f"| {name} | {figures['chunks_per_s']:.1f} | {figures['chunks_per_cpu_s']:.1f} | "
                     f"{ratio} | {cosine} |")
    return lines


def chart(scale: dict) -> str:
    """Query CPU time (log scale) against corpus size, one line per method."""
    sizes = sorted(scale.values(), key=lambda r: r["size"])
    series = {
        "dense, exact scan": lambda r: r["query_fts"]["dense_exact"]["cpu_p50_ms"],
        "dense, IVF-SQ (qa)": lambda r: _dense(r, "IVF-SQ")["dense"]["cpu_p50_ms"],
        "keyword, in-memory BM25": lambda r: r["query_bm25"]["keyword"]["cpu_p50_ms"],
        "keyword, LanceDB full-text (qa)": lambda r: r["query_fts"]["keyword"]["cpu_p50_ms"],
    }
    colours = ["#c0392b", "#2471a3", "#d68910", "#229954"]
    width, height, left, top, plot_w, plot_h = 560, 300, 60, 20, 320, 230
    points = {name: [(r["size"], get(r)) for r in sizes] for name, get in series.items()}
    values = [v for pts in points.values() for _, v in pts if v]
    low, high = math.floor(math.log10(min(values))), math.ceil(math.log10(max(values)))
    xs = [math.log10(r["size"]) for r in sizes]
    x0, x1 = min(xs), max(xs) if max(xs) > min(xs) else min(xs) + 1

    def x(size: int) -> float:
        return left + (math.log10(size) - x0) / (x1 - x0) * plot_w

    def y(value: float) -> float:
        return top + plot_h - (math.log10(value) - low) / max(high - low, 1) * plot_h

    svg = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
           'font-family="sans-serif" font-size="11">',
           f'<rect width="{width}" height="{height}" fill="white"/>']
    for power in range(low, high + 1):
        svg.append(f'<line x1="{left}" x2="{left + plot_w}" y1="{y(10 ** power):.1f}" '
                   f'y2="{y(10 ** power):.1f}" stroke="#ddd"/>')
        svg.append(f'<text x="{left - 6}" y="{y(10 ** power) + 4:.1f}" text-anchor="end">'
                   f'{10 ** power:g} ms</text>')
    for r in sizes:
        svg.append(f'<text x="{x(r["size"]):.1f}" y="{top + plot_h + 16}" text-anchor="middle">'
                   f'{r["size"]:,}</text>')
    svg.append(f'<text x="{left + plot_w / 2}" y="{height - 8}" text-anchor="middle">chunks '
               '(CPU ms per top-10 query, p50)</text>')
    for pts, colour in zip(points.values(), colours):
        path = " ".join(f"{x(s):.1f},{y(v):.1f}" for s, v in pts if v)
        svg.append(f'<polyline points="{path}" fill="none" stroke="{colour}" stroke-width="2"/>')
        for s, v in pts:
            if v:
                svg.append(f'<circle cx="{x(s):.1f}" cy="{y(v):.1f}" r="3" fill="{colour}"/>')
    for n, ((name, _), colour) in enumerate(zip(points.items(), colours)):
        svg.append(f'<rect x="{left + plot_w + 16}" y="{top + 10 + n * 18}" width="10" height="10" '
                   f'fill="{colour}"/><text x="{left + plot_w + 30}" y="{top + 19 + n * 18}">{name}</text>')
    svg.append("</svg>")
    return "\n".join(svg)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reports", type=Path, default=REPO / "evals" / "reports")
    parser.add_argument("--notes", type=Path, help="a Markdown file placed under the title")
    parser.add_argument("--appendix", type=Path, default=REPO / "evals" / "bench_pgvector.md",
                        help="a Markdown file placed at the end (the pgvector comparison, written "
                        "from evals/bench_pgvector.py's output)")
    args = parser.parse_args()
    scale = _load(args.reports, "bench_scale.json")
    ingest = _load(args.reports, "bench_ingest.json")
    serve = _load(args.reports, "bench_serve.json")
    embedding = _load(args.reports, "bench_embedding.json")
    lines = ["# qa at scale: index, ingestion, serving", ""]
    if args.notes and args.notes.exists():
        lines += [args.notes.read_text().strip(), ""]
    if scale:
        lines += ["## The index at scale (`evals/bench_scale.py`)", "", *scale_table(scale), "",
                  "![query CPU time against corpus size](bench.svg)", ""]
        (args.reports / "bench.svg").write_text(chart(scale))
    if ingest:
        first, second = ingest["first"], ingest["second"]
        lines += ["## `qa index` of generated articles (`evals/bench_ingest.py`)", "",
                  "| run | wall s | articles/s | chunks embedded | peak MB |", "|---|---|---|---|---|",
                  f"| first | {first['seconds']:.0f} | {first['articles_per_s']:.1f} | "
                  f"{first['chunks_embedded']} | {first['peak_mb']:.0f} |",
                  f"| second, same folder | {second['seconds']:.0f} | {second['articles_per_s']:.1f} | "
                  f"{second['chunks_embedded']} | {second['peak_mb']:.0f} |", "",
                  f"{ingest['articles']} articles; load average during the run "
                  f"{_load_average(ingest)}.", ""]
    if serve:
        lines += ["## One `qa serve` under load (`evals/bench_serve.py`)", "",
                  "| clients | answered | errors | questions/s | server CPU s per question | "
                  "p50 s | p95 s |", "|---|---|---|---|---|---|---|"]
        for level in serve["levels"]:
            lines.append(f"| {level['clients']} | {level['answered']} | {level['errors']} | "
                         f"{level['questions_per_s']:.2f} | {level.get('server_cpu_per_question', 0):.3f} | "
                         f"{level['p50_s']:.2f} | {level['p95_s']:.2f} |")
        lines += ["", f"Load average at the end: {_load_average(serve)}.",
                  ""]
    if embedding:
        lines += ["## Embedding throughput (`evals/bench_embedding.py`)", "", *embedding_table(embedding), ""]
    if args.appendix and args.appendix.exists():
        lines += [args.appendix.read_text().strip(), ""]
    (args.reports / "bench.md").write_text("\n".join(lines))
    print(f"wrote {args.reports / 'bench.md'}")


if __name__ == "__main__":
    main()
