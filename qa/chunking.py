"""Articles → sentence-aware chunks (llama-index TextNodes) that keep their offsets in the article."""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache

from llama_index.core import Document
from llama_index.core.node_parser import SentenceSplitter
from llama_index.core.schema import TextNode

from qa.corpus import Article
from qa.embedding import minilm_tokenizer
from qa.sentences import split_sentences

__all__ = ["chunk_articles", "article_metadata", "previous_chunk_id", "token_count", "CHUNK_FORMAT"]

# Chunk metadata keys, read back by retrieval and citations.
ARTICLE_ID, TITLE, PUBLISHED = "article_id", "title", "published"
# The whitespace between the previous chunk's end and this chunk's start ("" when they
# overlap), so that text spanning two chunks can be quoted verbatim.
GAP_BEFORE = "gap_before"
# Bumped when the chunks' metadata changes: an index of another format is rebuilt on its next
# sync, since the store's columns are fixed by the first chunks written (2: GAP_BEFORE added).
CHUNK_FORMAT = 2


def _chunk_id(article_id: str, position: int) -> str:
    return f"{article_id}#{position}"


def previous_chunk_id(chunk_id: str) -> str | None:
    """The id of the chunk before ``chunk_id`` in its article (None for the first chunk)."""
    article_id, _, position = chunk_id.rpartition("#")
    if not position.isdigit() or int(position) == 0:
        return None
    return _chunk_id(article_id, int(position) - 1)


def article_metadata(article: Article) -> dict[str, str]:
    """What travels with every chunk; an unknown date is "" (the store needs one column type)."""
    return {
        ARTICLE_ID: article.article_id,
        TITLE: article.title,
        PUBLISHED: article.published.isoformat() if article.published else "",
    }


@lru_cache(maxsize=1)
def _count_tokens() -> Callable[[str], list[int]]:
    # Count chunk size in the embedder's own WordPiece tokens (llama-index's default, tiktoken,
    # counts differently and would let chunks overflow MiniLM's 256-token window).
    tokenizer = minilm_tokenizer()
    tokenizer.no_padding()
    tokenizer.no_truncation()
    return lambda text: tokenizer.encode(text, add_special_tokens=False).ids


def token_count(text: str) -> int:
    """The length of ``text`` in the tokens chunk sizes are counted in (MiniLM's WordPiece)."""
    return len(_count_tokens()(text))


def chunk_articles(articles: list[Article], chunk_size: int, chunk_overlap: int) -> list[TextNode]:
    """Split articles into chunks of whole sentences, each with ``start_char_idx``/``end_char_idx``
    into ``Article.body`` and the article's id, title and date in its metadata."""
    splitter = SentenceSplitter(
        chunk_size=chunk_size,
        chunk_overlap=chunk_overlap,
        tokenizer=_count_tokens(),
        chunking_tokenizer_fn=split_sentences,
        paragraph_separator="\n\n",
        include_prev_next_rel=False,
        id_func=lambda position, document: _chunk_id(document.doc_id, position),
    )
    documents = [
        Document(
            text=article.body,
            doc_id=article.article_id,
            metadata=article_metadata(article),
            excluded_embed_metadata_keys=[ARTICLE_ID, TITLE, PUBLISHED, GAP_BEFORE],
            excluded_llm_metadata_keys=[ARTICLE_ID, TITLE, PUBLISHED, GAP_BEFORE],
        )
        for article in articles
    ]
    nodes = splitter.get_nodes_from_documents(documents)
    bodies = {article.article_id: article.body for article in articles}
    previous_end: dict[str, int] = {}
    for node in nodes:
        body = bodies[node.ref_doc_id]
        _ensure_offsets(node, body)
        gap = body[previous_end.get(node.ref_doc_id, node.start_char_idx):node.start_char_idx]
        node.metadata[GAP_BEFORE] = gap if gap.isspace() else ""
        previous_end[node.ref_doc_id] = node.end_char_idx
    return nodes


def _ensure_offsets(node: TextNode, body: str) -> None:
    """llama-index finds a chunk's offsets by searching the article; confirm them, never guess."""
    start, end = node.start_char_idx, node.end_char_idx
    if start is not None and end is not None and body[start:end] == node.text:
        return
    found = body.find(node.text)
    if found < 0:
        raise ValueError(f"chunk {node.node_id} is not a verbatim slice of its article")
    node.start_char_idx, node.end_char_idx = found, found + len(node.text)
