"""The persisted chunk store: LanceDB, behind llama-index's vector-store interface.

Why LanceDB: it is embedded (a folder, no server), keeps vectors, text and metadata together
in columnar files that load lazily (``Assistant()`` opens a million-chunk table without reading
it), scans 384-d vectors in native code, keeps an approximate vector index (IVF-SQ) and a
full-text index beside the data for large corpora, and every write is an atomic, numbered
table version, which is how an interrupted build is discarded (see ``qa.index``). For
several machines, ``QA_STORE_URL`` chooses the server store instead: PostgreSQL + pgvector
through llama-index's ``PGVectorStore`` (``qa.pgstore``), behind the same interface
(``qa.index.open_index``).
"""

from __future__ import annotations

import logging
import math
from pathlib import Path
from typing import Any

from llama_index.core.schema import TextNode
from llama_index.core.vector_stores.types import VectorStoreQuery, VectorStoreQueryResult
from llama_index.core.vector_stores.utils import metadata_dict_to_node
from llama_index.vector_stores.lancedb import LanceDBVectorStore
from pydantic import PrivateAttr

__all__ = ["ChunkStore", "open_chunk_store", "TABLE_NAME"]

TABLE_NAME = "chunks"
TEXT_COLUMN, VECTOR_COLUMN = "text", "vector"
# Columns a query reads back: a node is rebuilt from "metadata" alone, so the vector (1.5 kB a
# row) and the text (also inside "metadata") are never read.
_NODE_COLUMNS = ["id", "metadata"]
# A vector index is retrained from scratch when the table has grown this much past the rows
# its partitions were trained on; smaller growth is merged into it by ``optimize``.
_RETRAIN_GROWTH = 4


def _sql_string(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


class ChunkStore(LanceDBVectorStore):
    """LanceDBVectorStore with two fixes we depend on.

    - ``delete``/``delete_nodes``: the integration quotes values with double quotes, which
      Lance's SQL reads as column names ("No field named ..."); we quote them as strings.
    - ``query`` on an empty table returns no hits instead of raising ``Warning``.

    and the large-corpus side: ``query`` reads only the columns a node needs into Arrow (the
    integration reads every column, the vector too, into pandas: 54 ms a query at 100 k
    chunks), uses the vector index with ``nprobes``/``refine_factor`` once one exists, and
    ``keyword_query``/``document_frequency`` search LanceDB's own full-text index.
    """

    _frequencies: dict = PrivateAttr(default_factory=dict)

    def delete(self, ref_doc_id: str, **delete_kwargs: Any) -> None:
        self.table.delete(f"{self.doc_id_key} = {_sql_string(ref_doc_id)}")

    def delete_nodes(self, node_ids: list[str], **delete_kwargs: Any) -> None:
        if node_ids:
            self.table.delete(f"id IN ({', '.join(_sql_string(i) for i in node_ids)})")

    def query(self, query: VectorStoreQuery, **kwargs: Any) -> VectorStoreQueryResult:
        if self._table is None or query.filters is not None or kwargs:
            if self._table is None or self._table.count_rows() == 0:
                return VectorStoreQueryResult(nodes=[], similarities=[], ids=[])
            return super().query(query, **kwargs)
        search = (self._table.search(query.query_embedding, vector_column_name=VECTOR_COLUMN)
                  .limit(query.similarity_top_k).select(_NODE_COLUMNS + ["_distance"]))
        if self.nprobes:
            search = search.nprobes(self.nprobes)
        if self.refine_factor:
            search = search.refine_factor(self.refine_factor)
        rows = search.to_arrow()
        # Unit vectors: squared L2 distance d = 2 - 2 cos, so 1 - d/2 is the cosine similarity.
        similarities = [1.0 - d / 2.0 for d in rows["_distance"].to_pylist()]
        return _result(rows, similarities)

    # --- the approximate vector index ------------------------------------------------------
    def vector_index_rows(self) -> int | None:
        """Rows the vector index covers (None while there is none)."""
        for index in self.table.list_indices():
            if VECTOR_COLUMN in index.columns:
                stats = self.table.index_stats(index.name)
                return stats.num_indexed_rows if stats else 0
        return None

    def ensure_vector_index(self, min_rows: int) -> str:
        """Build the vector index once the table holds ``min_rows`` chunks, bring new rows into
        it after that, and retrain it when the table has outgrown it; below ``min_rows`` queries
        scan every vector, which is exact and, there, faster. Returns what was done."""
        if self._table is None:
            return "none"
        rows = self._table.count_rows()
        indexed = self.vector_index_rows()
        if rows < min_rows:
            if indexed is not None:  # the table shrank back below the threshold
                self._table.drop_index(self._vector_index_name())
                return "dropped"
            return "none"
        if indexed is None or rows > _RETRAIN_GROWTH * max(indexed, 1):
            from lancedb.index import IvfSq

            # About sqrt(rows) partitions of ~1,000 vectors, each scanned in 8-bit scalar
            # quantisation. IVF-SQ beat IVF-HNSW-SQ (HNSW inside each partition) at 100 k and
            # 1 M chunks on latency and recall, and trains 4x faster (evals/bench_scale.py).
            partitions = max(1, int(math.sqrt(rows)))
            self._table.create_index(VECTOR_COLUMN, config=IvfSq(
                distance_type="l2", num_partitions=partitions), replace=True)
            return "built"
        if indexed < rows:
            self._table.optimize()  # appends the new rows to the existing partitions
            return "updated"
        return "current"

    def prewarm(self) -> None:
        """Load the vector and full-text indexes into LanceDB's cache now, so the first queries
        do not each pay for reading the partitions they touch (0.5-1 s and ~600 MB at 1 M
        chunks; it took the first hundred queries' dense p95 from 27-29 to 19-21 ms,
        evals/sweep_vector_index.py)."""
        if self._table is None:
            return
        for index in self._table.list_indices():
            if VECTOR_COLUMN in index.columns or TEXT_COLUMN in index.columns:
                self._table.prewarm_index(index.name)

    def _vector_index_name(self) -> str:
        return next(i.name for i in self.table.list_indices() if VECTOR_COLUMN in i.columns)

    # --- the full-text index ---------------------------------------------------------------
    def has_text_index(self) -> bool:
        return self._table is not None and any(
            TEXT_COLUMN in index.columns and index.index_type == "FTS"
            for index in self._table.list_indices())

    def ensure_text_index(self) -> str:
        """Build LanceDB's full-text index of the chunk text (English stemming and stopwords, as
        the in-memory BM25), or bring rows written since into it. Returns what was done."""
        if self._table is None:
            return "none"
        if not self.has_text_index():
            from lancedb.index import FTS

            self._table.create_index(TEXT_COLUMN, config=FTS(
                language="English", stem=True, remove_stop_words=True, ascii_folding=True))
            if not any(i.columns == ["id"] for i in self._table.list_indices()):
                from lancedb.index import BTree

                self._table.create_index("id", config=BTree())  # for get_chunk at scale
            return "built"
        if self._table.count_rows() > self.text_index_rows():
            self._table.optimize()
            return "updated"
        return "current"

    def text_index_rows(self) -> int:
        for index in self.table.list_indices():
            if TEXT_COLUMN in index.columns and index.index_type == "FTS":
                stats = self.table.index_stats(index.name)
                return stats.num_indexed_rows if stats else 0
        return 0

    def drop_text_index(self) -> None:
        for index in list(self.table.list_indices()):
            if TEXT_COLUMN in index.columns and index.index_type == "FTS":
                self.table.drop_index(index.name)

    def keyword_query(self, text: str, top_k: int) -> VectorStoreQueryResult:
        """The ``top_k`` chunks best matching ``text`` by BM25 over the full-text index (only
        chunks sharing a term with it)."""
        from lancedb.query import MatchQuery

        if self._table is None or not text.strip():
            return VectorStoreQueryResult(nodes=[], similarities=[], ids=[])
        rows = (self._table.search(MatchQuery(text, TEXT_COLUMN), query_type="fts")
                .limit(top_k).select(_NODE_COLUMNS + ["_score"]).to_arrow())
        return _result(rows, rows["_score"].to_pylist())

    def document_frequency(self, term: str, cap: int) -> int:
        """Chunks holding ``term`` (after the index's stemming), counted up to ``cap``."""
        key = (self._table.version, term, cap)
        if key not in self._frequencies:
            # LanceDB does not expose its index's term statistics, so count the matches, up
            # to a cap: a term in more chunks than that is common, and its weight hardly matters.
            from lancedb.query import MatchQuery

            if len(self._frequencies) > 4096:
                self._frequencies.clear()
            rows = (self._table.search(MatchQuery(term, TEXT_COLUMN), query_type="fts")
                    .limit(cap).select(["_score"]).to_arrow())
            self._frequencies[key] = rows.num_rows
        return self._frequencies[key]

    def get_chunk(self, chunk_id: str) -> TextNode | None:
        """One chunk by id (without its vector), or None."""
        if self._table is None:
            return None
        rows = (self._table.search().where(f"id = {_sql_string(chunk_id)}")
                .select(_NODE_COLUMNS).limit(1).to_arrow())
        return metadata_dict_to_node(rows["metadata"][0].as_py()) if rows.num_rows else None

    def count(self) -> int:
        return self._table.count_rows() if self._table is not None else 0

    @property
    def has_table(self) -> bool:
        return self._table is not None

    def all_nodes(self) -> list[TextNode]:
        """Every chunk in the table (at its checked-out version), without vectors."""
        if self._table is None:
            return []
        rows = self._table.to_arrow().select(["metadata"]).to_pylist()
        return [metadata_dict_to_node(row["metadata"]) for row in rows]

    def version(self) -> int:
        return self.table.version

    def latest_version(self) -> int:
        return max(v["version"] for v in self.table.list_versions())

    def pin(self, version: int) -> None:
        """Read the table as it was at ``version`` (a committed build)."""
        self.table.checkout(version)

    def reset_to(self, version: int) -> None:
        """Make ``version`` the latest again, discarding anything written after it."""
        self.table.restore(version)


def _result(rows: Any, similarities: list[float]) -> VectorStoreQueryResult:
    nodes = [metadata_dict_to_node(m) for m in rows["metadata"].to_pylist()]
    return VectorStoreQueryResult(nodes=nodes, similarities=similarities,
                                  ids=rows["id"].to_pylist())


def open_chunk_store(folder: Path, nprobes: int = 20,
                     refine_factor: int | None = None) -> ChunkStore:
    """Open (or prepare to create) the chunk table under ``folder``."""
    # The integration logs a warning for a table not yet created, which is our normal first build.
    logging.getLogger("llama_index.vector_stores.lancedb.base").setLevel(logging.ERROR)
    folder.mkdir(parents=True, exist_ok=True)
    return ChunkStore(uri=str(folder), table_name=TABLE_NAME, mode="create", nprobes=nprobes,
                      refine_factor=refine_factor)
