"""The index past its size thresholds: LanceDB's vector and full-text indexes, built, kept up to
date and dropped again by qa, with the thresholds lowered so that the seed articles cross them."""

from __future__ import annotations

from llama_index.core.vector_stores.types import VectorStoreQuery

from qa.assistant import Assistant

RARE = ("The harbour master said the Qorvantine dredger would reach Tbilisi's river port on "
        "March 3, after the envoys met to discuss the border.")
SEED_CHUNKS = 26


def _dense_top(assistant: Assistant, text: str) -> str:
    store = assistant.index.open_store()
    vector = assistant.embed_model.embed([text])[0].tolist()
    return store.query(VectorStoreQuery(query_embedding=vector, similarity_top_k=3)).ids[0]


def test_below_the_thresholds_the_index_scans_vectors_and_keeps_bm25_in_memory(data_dir):
    assistant = Assistant(data_dir=data_dir)
    store = assistant.index.open_store()
    assert store.count() == SEED_CHUNKS
    assert store.vector_index_rows() is None and not store.has_text_index()
    assert assistant.index.bm25_folder() is not None


def test_past_the_threshold_the_vector_index_is_built_and_finds_the_right_chunk(data_dir):
    assistant = Assistant(data_dir=data_dir, vector_index_min_chunks=20, full_text_min_chunks=20)
    assistant.reindex()  # no article changed: a lowered threshold takes effect all the same
    store = assistant.index.open_store()
    assert store.vector_index_rows() == SEED_CHUNKS
    # IVF-SQ, chosen over IVF-HNSW-SQ by evals/bench_scale.py at 100 k and 1 M chunks
    assert [i.index_type for i in store.table.list_indices() if "vector" in i.columns] == ["IvfSq"]
    chunk = next(n for n in store.all_nodes() if "Blair House" in n.text)
    assert _dense_top(assistant, chunk.text) == chunk.node_id
    answer = assistant.ask("On what date did Blinken meet the foreign ministers at Blair House?")
    assert "November 7" in answer.text


def test_full_text_index_finds_an_exact_rare_term(data_dir, tmp_path):
    article = tmp_path / "dredger.txt"
    article.write_text(RARE, encoding="utf-8")
    assistant = Assistant(data_dir=data_dir, vector_index_min_chunks=20, full_text_min_chunks=20)
    assistant.add_articles([article])
    assert assistant.index.bm25_folder() is None  # the keyword side is LanceDB's index now
    store = assistant.index.open_store()
    assert store.has_text_index() and store.text_index_rows() == store.count()
    passages = assistant.retrieve("Qorvantine", top_k=3)
    assert passages[0].article_id == "dredger"
    assert assistant.retriever.document_frequency("qorvantin") == 1
    assert assistant.retriever.document_frequency("nosuchwordanywhere") == 0
    # rows added after the vector index was built are merged into it and found
    assert store.vector_index_rows() == store.count() == SEED_CHUNKS + 1
    assert _dense_top(assistant, RARE) == "dredger#0"


def test_crossing_back_below_the_threshold_returns_to_bm25(data_dir, tmp_path):
    article = tmp_path / "dredger.txt"
    article.write_text(RARE, encoding="utf-8")
    threshold = SEED_CHUNKS + 1
    assistant = Assistant(data_dir=data_dir, vector_index_min_chunks=threshold,
                          full_text_min_chunks=threshold)
    assistant.add_articles([article])
    assert assistant.index.open_store().has_text_index()
    assistant.remove_article("dredger")
    store = assistant.index.open_store()
    assert not store.has_text_index() and store.vector_index_rows() is None
    assert assistant.index.bm25_folder() is not None
    assert all(p.article_id != "dredger" for p in assistant.retrieve("Qorvantine dredger"))
