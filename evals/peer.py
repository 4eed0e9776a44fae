"""Peer check: llama-index's own ``RetrieverEvaluator`` (hit rate, MRR) on our hybrid retriever
and on a plain in-memory ``VectorStoreIndex`` over the same chunks and embedder.

It checks our retrieval metrics against an outside implementation, and shows what BM25 + fusion
adds over vectors alone. Expected ids are the chunks that hold at least half of a gold support
sentence (the same rule as ``metrics.passage_hits``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from evals.dataset import Case
from evals.metrics import locate_support, passage_hits

__all__ = ["PeerResult", "compare_retrievers", "expected_chunk_ids", "retrieval_query"]


def retrieval_query(case: Case) -> str:
    """The text retrieval searches for a case: a follow-up is searched together with the
    question before it, as the answer step does for a question that refers back."""
    return f"{case.history[-1]} {case.question}" if case.history else case.question


@dataclass
class PeerResult:
    """hit rate and MRR per retriever, over ``queries`` questions."""

    top_k: int
    queries: int
    metrics: dict[str, dict[str, float]] = field(default_factory=dict)
    skipped: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "top_k": self.top_k,
            "queries": self.queries,
            "metrics": self.metrics,
            "skipped": self.skipped,
        }


def expected_chunk_ids(case: Case, nodes: Sequence, bodies: dict[str, str]) -> list[str]:
    """Ids of the chunks that hold a gold support sentence of ``case``."""
    spans, _ = locate_support(case.support, case.article_ids, bodies)
    return [
        node.node_id
        for node in nodes
        if passage_hits(
            node.metadata["article_id"], node.start_char_idx or 0, node.end_char_idx or 0, spans
        )
    ]


def _hybrid_as_llama_retriever(retriever, top_k: int):
    """Our HybridRetriever behind llama-index's BaseRetriever, so RetrieverEvaluator can call it."""
    from llama_index.core.retrievers import BaseRetriever
    from llama_index.core.schema import NodeWithScore, TextNode

    class HybridAdapter(BaseRetriever):
        def _retrieve(self, query_bundle):
            return [
                NodeWithScore(node=TextNode(id_=p.chunk_id, text=p.text), score=p.score)
                for p in retriever.retrieve(query_bundle.query_str, top_k)
            ]

    return HybridAdapter()


def compare_retrievers(assistant, cases: Sequence[Case], seeds_dir, top_k: int = 5) -> PeerResult:
    """Run RetrieverEvaluator on our hybrid retriever and on a plain VectorStoreIndex."""
    from llama_index.core import VectorStoreIndex
    from llama_index.core.evaluation import RetrieverEvaluator

    from qa.chunking import chunk_articles
    from qa.corpus import load_articles

    articles, _ = load_articles([seeds_dir])
    bodies = {a.article_id: a.body for a in articles}
    settings = assistant.settings
    nodes = chunk_articles(articles, settings.chunk_size, settings.chunk_overlap)
    # The vector baseline embeds its own copies, with the same embedder the assistant uses.
    baseline = VectorStoreIndex(nodes, embed_model=assistant.embed_model).as_retriever(
        similarity_top_k=top_k
    )
    hybrid = _hybrid_as_llama_retriever(assistant.retriever, top_k)
    queries = [
        (retrieval_query(c), expected_chunk_ids(c, nodes, bodies))
        for c in cases
        if c.answerable and c.support
    ]
    queries = [(q, ids) for q, ids in queries if ids]
    result = PeerResult(top_k=top_k, queries=len(queries))
    for name, retriever in (
        ("qa hybrid (BM25 + vectors, RRF)", hybrid),
        ("llama-index VectorStoreIndex", baseline),
    ):
        evaluator = RetrieverEvaluator.from_metric_names(["hit_rate", "mrr"], retriever=retriever)
        totals = {"hit_rate": 0.0, "mrr": 0.0}
        for query, expected in queries:
            outcome = evaluator.evaluate(query=query, expected_ids=expected)
            for metric in totals:
                totals[metric] += outcome.metric_vals_dict[metric]
        result.metrics[name] = {m: v / len(queries) if queries else 0.0 for m, v in totals.items()}
    return result
