"""Hybrid retrieval: BM25 and dense vectors fused by reciprocal rank (llama-index retrievers).

BM25 matches the names, numbers and dates that embeddings blur; vectors match paraphrases.
The keyword side is llama-index's in-memory ``BM25Retriever`` for a small index, and LanceDB's
full-text index (BM25 too, on disk, read lazily) for a large one: ``qa.index`` decides which
and writes the one it chose (evals/bench_scale.py measures both).
"""

from __future__ import annotations

import copy
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import date
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from llama_index.core import VectorStoreIndex
from llama_index.core.llms import MockLLM
from llama_index.core.retrievers import BaseRetriever, QueryFusionRetriever
from llama_index.core.schema import BaseNode, NodeWithScore, QueryBundle
from llama_index.core.vector_stores.utils import metadata_dict_to_node

from qa.chunking import ARTICLE_ID, GAP_BEFORE, PUBLISHED, TITLE, previous_chunk_id
from qa.embedding import MiniLMEmbedding
from qa.text import idf_weight, numeral, without_accents

if TYPE_CHECKING:  # imported when first used: LanceDB and bm25s are slow to import
    from llama_index.retrievers.bm25 import BM25Retriever

    from qa.store import ChunkStore

__all__ = ["Passage", "PassageRetriever", "HybridRetriever", "FusionByDepth", "build_bm25", "fuse",
           "KEYWORD_FORMAT"]


@dataclass(frozen=True)
class Passage:
    """A retrieved chunk: its text, where it sits in its article, and the article's details."""

    chunk_id: str
    article_id: str
    title: str
    published: date | None
    text: str
    start: int
    end: int
    score: float
    gap_before: str = ""  # whitespace between the previous chunk of the article and this one

    @classmethod
    def from_node(cls, hit: NodeWithScore) -> Passage:
        node = hit.node
        published = node.metadata.get(PUBLISHED) or None
        return cls(
            chunk_id=node.node_id,
            article_id=node.metadata[ARTICLE_ID],
            title=node.metadata.get(TITLE, ""),
            published=date.fromisoformat(published) if published else None,
            text=node.get_content(metadata_mode="none"),
            start=node.start_char_idx or 0,
            end=node.end_char_idx or 0,
            score=float(hit.score or 0.0),
            gap_before=node.metadata.get(GAP_BEFORE, ""),
        )


@lru_cache(maxsize=1)
def _matching_bm25() -> type[BM25Retriever]:
    from llama_index.retrievers.bm25 import BM25Retriever

    class MatchingBM25Retriever(BM25Retriever):
        """BM25 that returns only chunks sharing a term with the query: rank fusion would
        otherwise credit zero-score chunks for their arbitrary order."""

        def _retrieve(self, query_bundle: QueryBundle) -> list[NodeWithScore]:
            return [hit for hit in super()._retrieve(query_bundle) if (hit.score or 0) > 0]

    return MatchingBM25Retriever


class _FullTextRetriever(BaseRetriever):
    """BM25 over LanceDB's full-text index of the chunk store (only chunks sharing a term)."""

    def __init__(self, store: ChunkStore, similarity_top_k: int) -> None:
        super().__init__()
        self.store = store
        self.similarity_top_k = similarity_top_k

    def _retrieve(self, query_bundle: QueryBundle) -> list[NodeWithScore]:
        result = self.store.keyword_query(query_bundle.query_str, self.similarity_top_k)
        return [NodeWithScore(node=node, score=score)
                for node, score in zip(result.nodes, result.similarities)]


KEYWORD_FORMAT = 3
"""How the in-memory BM25 index reads words: 3 also reads ordinals as numbers ("eleventh",
"11th": "11", as ``qa.text`` does); 2 folds accents ("Laçın" is found as "Lacin", as ``qa.text``
and LanceDB's full-text index read it); 1, indexes written before, does neither."""


class _FoldingStemmer:
    """Snowball English stems of words with their accents dropped, and from format 3 ordinals
    as numbers: bm25s calls ``stemWords`` on the (lower-cased) tokens of the chunks and of each
    query."""

    def __init__(self, numerals: bool) -> None:
        import Stemmer

        self._stemmer = Stemmer.Stemmer("english")
        self._numerals = numerals

    def stemWords(self, words: list[str]) -> list[str]:  # noqa: N802 - PyStemmer's name
        stems = self._stemmer.stemWords([without_accents(word) for word in words])
        if not self._numerals:
            return stems
        return [numeral(word) or stem for word, stem in zip(words, stems)]


def _stemmer(keyword_format: int = KEYWORD_FORMAT):
    if keyword_format >= 2:
        return _FoldingStemmer(numerals=keyword_format >= 3)
    import Stemmer

    return Stemmer.Stemmer("english")


def build_bm25(nodes: list[BaseNode]) -> BM25Retriever:
    """A BM25 index over ``nodes`` (English stemming and stopwords)."""
    return _matching_bm25().from_defaults(
        nodes=nodes, stemmer=_stemmer(), language="en", similarity_top_k=min(10, len(nodes))
    )


class PassageRetriever(Protocol):
    """What answering needs of retrieval; ``HybridRetriever`` (BM25 + LanceDB) and
    ``qa.pgstore.PostgresRetriever`` (PostgreSQL full text + pgvector) provide it."""

    def retrieve(self, query: str, top_k: int) -> list[Passage]:
        """The ``top_k`` best passages for ``query``, best first."""

    def term_weight(self, term: str) -> float:
        """Inverse document frequency of a stemmed term over the chunks."""

    def previous_passage(self, passage: Passage) -> Passage | None:
        """The chunk before ``passage`` in its article (None for an article's first chunk)."""


@lru_cache(maxsize=1)
def _side_searches() -> ThreadPoolExecutor:
    return ThreadPoolExecutor(max_workers=8, thread_name_prefix="qa-search")


class _ConcurrentFusionRetriever(QueryFusionRetriever):
    """``QueryFusionRetriever`` whose retrievers search at the same time.

    llama-index runs synchronous retrievers one after another (``use_async`` only gathers
    coroutines, and these retrievers have no asynchronous side). LanceDB searches in native
    code, so the two sides overlap, though only in part (its Python binding sends every query
    through one event loop): at 1 M chunks hybrid p50 27-33 ms against 30-38 ms one after the
    other (evals/bench_notes.md).
    """

    def _run_sync_queries(self, queries: list[QueryBundle]) -> dict[tuple[str, int], list[NodeWithScore]]:
        results: dict[tuple[str, int], list[NodeWithScore]] = {}
        for query in queries:
            first, *others = self._retrievers
            pending = [(index, _side_searches().submit(retriever.retrieve, query))
                       for index, retriever in enumerate(others, start=1)]
            results[(query.query_str, 0)] = first.retrieve(query)
            for index, future in pending:
                results[(query.query_str, index)] = future.result()
        return results


def fuse(retrievers: list[BaseRetriever], candidates: int) -> QueryFusionRetriever:
    """Keyword and vector retrievers (``candidates`` hits each), searched at the same time and
    fused by reciprocal rank."""
    return _ConcurrentFusionRetriever(
        retrievers,
        mode="reciprocal_rerank",
        num_queries=1,  # no query rewriting, so the LLM below is never called
        # Every fused hit (at most all lists); callers cut to their top_k, rather than setting
        # this per call, which concurrent requests would race on.
        similarity_top_k=len(retrievers) * candidates,
        use_async=False,
        llm=MockLLM(),
    )


class FusionByDepth:
    """Fused retrievers whose sides each propose ``max(candidates, top_k)`` hits: a caller
    asking for more passages than ``candidates`` gets them from deeper lists, not from the
    shallow ones cut short. One fusion per depth, built when first asked for and shared (their
    settings are never changed after, so concurrent requests do not race on them)."""

    def __init__(self, sides: Callable[[int], list[BaseRetriever]], candidates: int) -> None:
        self._sides = sides
        self._candidates = candidates
        self._fusions: dict[int, QueryFusionRetriever] = {}
        self._lock = threading.Lock()

    def retrieve(self, query: str, top_k: int) -> list[NodeWithScore]:
        depth = max(self._candidates, top_k)
        with self._lock:
            fusion = self._fusions.get(depth)
            if fusion is None:
                fusion = self._fusions[depth] = fuse(self._sides(depth), depth)
        return fusion.retrieve(query)[:top_k]


class HybridRetriever:
    """Top passages for a query from BM25 + vectors, fused with reciprocal rank fusion."""

    def __init__(self, store: ChunkStore | None, bm25_folder: Path | None,
                 embed_model: MiniLMEmbedding, candidates: int,
                 keyword_format: int = KEYWORD_FORMAT) -> None:
        """Keyword side: the BM25 index in ``bm25_folder`` (written in ``keyword_format``), or,
        when that is None, the store's full-text index; with neither the index is empty and
        every query finds nothing."""
        self._fusion = None
        self._bm25: BM25Retriever | None = None
        self._store: ChunkStore | None = None
        self._documents = 0
        self._corpus_position: dict[str, int] | None = None
        if store is None or (bm25_folder is None and not store.has_text_index()):
            return
        store.prewarm()
        vectors = VectorStoreIndex.from_vector_store(store, embed_model=embed_model)
        if bm25_folder is not None:
            bm25 = _matching_bm25().from_persist_dir(str(bm25_folder))
            bm25.stemmer = _stemmer(keyword_format)  # queries read as its chunks were
            self._bm25 = bm25
            self._documents = int(bm25.bm25.scores["num_docs"])
        else:
            self._store = store
            self._documents = store.count()

        def sides(depth: int) -> list[BaseRetriever]:
            if self._bm25 is None:
                keyword: BaseRetriever = _FullTextRetriever(store, depth)
            else:  # another retriever over the same in-memory index, at its own depth
                keyword = copy.copy(self._bm25)
                keyword.similarity_top_k = min(depth, len(self._bm25.corpus))
            return [vectors.as_retriever(similarity_top_k=depth), keyword]

        self._fusion = FusionByDepth(sides, candidates)

    def document_frequency(self, term: str) -> int | None:
        """How many chunks contain a stemmed term (None while the index is empty)."""
        if self._store is not None:
            return self._store.document_frequency(term, cap=max(1000, self._documents // 20))
        if self._bm25 is None:
            return None
        bm25 = self._bm25.bm25
        token = bm25.vocab_dict.get(term)
        if token is None:
            return 0
        indptr = bm25.scores["indptr"]
        return int(indptr[token + 1] - indptr[token])

    def term_weight(self, term: str) -> float:
        """Inverse document frequency of a stemmed term over the chunks (BM25's own counts)."""
        return idf_weight(self.document_frequency(term), self._documents)

    def previous_passage(self, passage: Passage) -> Passage | None:
        """The chunk before ``passage`` in its article, for text just before a retrieved chunk
        (from BM25's in-memory corpus, or the store); None for an article's first chunk."""
        wanted = previous_chunk_id(passage.chunk_id)
        if wanted is None:
            return None
        if self._store is not None:
            node = self._store.get_chunk(wanted)
            return Passage.from_node(NodeWithScore(node=node, score=0.0)) if node else None
        if self._bm25 is None:
            return None
        if self._corpus_position is None:
            self._corpus_position = {entry["node_id"]: n for n, entry in enumerate(self._bm25.corpus)}
        position = self._corpus_position.get(wanted)
        if position is None:
            return None
        node = metadata_dict_to_node(self._bm25.corpus[position])
        return Passage.from_node(NodeWithScore(node=node, score=0.0))

    def retrieve(self, query: str, top_k: int) -> list[Passage]:
        """The ``top_k`` best passages for ``query``, best first."""
        if self._fusion is None:
            return []
        return [Passage.from_node(hit) for hit in self._fusion.retrieve(query, top_k)]
