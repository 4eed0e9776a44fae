"""The persisted chunk store: LanceDB, behind llama-index's vector-store interface.

Why LanceDB: it is embedded (a folder, no server), keeps vectors, text and metadata together
in columnar files that load lazily (``Assistant()`` opens a million-chunk table without reading
it), scans 384-d vectors in native code and can add an IVF-PQ index for larger corpora, and every
write is an atomic, numbered table version, which is how an interrupted build is discarded
(see ``qa.index``). A server store (PostgreSQL + pgvector) can replace it through the same
``BasePydanticVectorStore`` interface.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from llama_index.core.schema import TextNode
from llama_index.core.vector_stores.types import VectorStoreQuery, VectorStoreQueryResult
from llama_index.core.vector_stores.utils import metadata_dict_to_node
from llama_index.vector_stores.lancedb import LanceDBVectorStore

__all__ = ["ChunkStore", "open_chunk_store", "TABLE_NAME"]

TABLE_NAME = "chunks"


def _sql_string(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


class ChunkStore(LanceDBVectorStore):
    """LanceDBVectorStore with two fixes we depend on.

    - ``delete``/``delete_nodes``: the integration quotes values with double quotes, which
      Lance's SQL reads as column names ("No field named ..."); we quote them as strings.
    - ``query`` on an empty table returns no hits instead of raising ``Warning``.
    """

    def delete(self, ref_doc_id: str, **delete_kwargs: Any) -> None:
        self.table.delete(f"{self.doc_id_key} = {_sql_string(ref_doc_id)}")

    def delete_nodes(self, node_ids: list[str], **delete_kwargs: Any) -> None:
        if node_ids:
            self.table.delete(f"id IN ({', '.join(_sql_string(i) for i in node_ids)})")

    def query(self, query: VectorStoreQuery, **kwargs: Any) -> VectorStoreQueryResult:
        if self._table is None or self._table.count_rows() == 0:
            return VectorStoreQueryResult(nodes=[], similarities=[], ids=[])
        return super().query(query, **kwargs)

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


def open_chunk_store(folder: Path) -> ChunkStore:
    """Open (or prepare to create) the chunk table under ``folder``."""
    # The integration logs a warning for a table not yet created, which is our normal first build.
    logging.getLogger("llama_index.vector_stores.lancedb.base").setLevel(logging.ERROR)
    folder.mkdir(parents=True, exist_ok=True)
    return ChunkStore(uri=str(folder), table_name=TABLE_NAME, mode="create")
