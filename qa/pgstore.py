"""The index on PostgreSQL + pgvector, for users who outgrow one machine (``QA_STORE_URL``).

Everything lives in the database, so any number of qa processes share one index and library::

    data_qa_chunks   chunks: text, metadata, vector, full-text tsvector (llama-index's PGVectorStore
                     with hybrid_search: pgvector for the dense side, Postgres full text for keywords)
    qa_index         one row: the layout (embedding model, chunk size/overlap/format), a generation
                     number bumped by every build, and the chunk count
    qa_articles      what the index holds of each article (content hash, chunks, title...)
    qa_library       the bytes of the articles users added (the embedded store keeps them as files)

Crash safety: a build is one transaction (deletions, new chunks, records, the qa_index row), so
readers see the index before or after it, never part of it, and a build killed half-way is rolled
back by the server. Builds take turns through an advisory lock that the server drops with the
connection of a dead writer. Readers read live, so an article added through one process is
answerable through all of them at once.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from llama_index.core.retrievers import BaseRetriever
from llama_index.core.schema import NodeWithScore, QueryBundle, TextNode

from qa.chunking import CHUNK_FORMAT, chunk_articles, previous_chunk_id
from qa.corpus import Article, parse_article
from qa.embedding import EMBEDDING_DIM, MODEL_NAME, MiniLMEmbedding
from qa.errors import ArticleError, IndexBuildError, StoreError
from qa.index import (
    ArticleRecord,
    IndexReport,
    Progress,
    article_records,
    embed_and_add,
    plan_changes,
)
from qa.retrieval import Passage
from qa.text import idf_weight

if TYPE_CHECKING:
    from llama_index.vector_stores.postgres import PGVectorStore
    from sqlalchemy.engine import URL, Connection, Engine

    from qa.settings import Settings

__all__ = ["PostgresIndex", "PostgresLibrary", "PostgresRetriever", "open_postgres",
           "CHUNKS_TABLE"]

SETTING = "QA_STORE_URL"
CHUNKS_TABLE = "data_qa_chunks"  # PGVectorStore prefixes "data_" to the table name it is given
_TABLE_NAME = "qa_chunks"
# pgvector's HNSW index over the chunk vectors, made by PGVectorStore's set-up. Without it every
# dense query scans the table (1.1 s at 100 k chunks); ef_search 200 gave recall@10 0.965 at
# 9.8 ms there, against 0.887 at the default 40 (evals/bench_pgvector.py, evals/reports/bench.md).
_HNSW = {"hnsw_m": 16, "hnsw_ef_construction": 64, "hnsw_ef_search": 200,
         "hnsw_dist_method": "vector_cosine_ops"}
_VECTOR_INDEX = f"{CHUNKS_TABLE}_embedding_idx"  # the name PGVectorStore gives it
_TEXT_SEARCH_CONFIG = "english"  # Snowball English stems, as BM25 and qa.text use
_BUILD_LOCK = 0x7161_6275_696C64  # pg_advisory_lock key of builds ("qabuild")
_SCHEMA_LOCK = 0x7161_7363_6865  # and of creating the tables ("qasche")
_LOCK_WAIT = "120s"
_CONNECT_TIMEOUT_SECONDS = 10
_LIBRARY_SOURCE = "postgresql:qa_library"  # an added article's ``source``: where its copy is
_DRIVERS = ("postgresql", "postgres", "postgresql+psycopg2")

_SCHEMA = [
    """CREATE TABLE IF NOT EXISTS qa_index (
        id int PRIMARY KEY CHECK (id = 1),
        generation bigint NOT NULL,
        embedding_model text NOT NULL,
        chunk_size int NOT NULL,
        chunk_overlap int NOT NULL,
        chunk_format int NOT NULL,
        chunks bigint NOT NULL)""",
    """CREATE TABLE IF NOT EXISTS qa_articles (
        article_id text PRIMARY KEY,
        title text NOT NULL,
        published text NOT NULL,
        source text NOT NULL,
        content_hash text NOT NULL,
        chunks int NOT NULL)""",
    """CREATE TABLE IF NOT EXISTS qa_library (
        file_name text PRIMARY KEY,
        article_id text NOT NULL,
        content bytea NOT NULL)""",
]


@dataclass(frozen=True)
class _State:
    generation: int
    embedding_model: str
    chunk_size: int
    chunk_overlap: int
    chunk_format: int
    chunks: int


def open_postgres(settings: Settings, embed_model: MiniLMEmbedding
                  ) -> tuple[PostgresIndex, PostgresLibrary]:
    """Connect to ``settings.store_url`` and prepare its tables. Raises StoreError naming
    QA_STORE_URL when the URL is malformed, the server unreachable or refusing, or the
    ``vector`` extension missing; nothing is ever written anywhere else instead."""
    raw = settings.store_url.get_secret_value() if settings.store_url else ""
    try:
        import sqlalchemy  # noqa: F401
        from llama_index.vector_stores.postgres import PGVectorStore  # noqa: F401
    except ImportError as exc:
        raise StoreError(f"{SETTING} is set, but the PostgreSQL store is not installed "
                         f"({exc.name} is missing): pip install 'qa[postgres]'") from exc
    url, async_url = _parse_url(raw)
    engine, async_engine = _engines(url, async_url)
    shown = url.render_as_string(hide_password=True)
    with _database_errors(shown):
        with engine.connect() as connection:
            connection.exec_driver_sql("SELECT 1")
        _ensure_schema(engine, async_engine, url, async_url, shown)
    index = PostgresIndex(engine, async_engine, url, async_url, shown, embed_model,
                          settings.chunk_size, settings.chunk_overlap)
    return index, PostgresLibrary(engine, shown)


def _parse_url(raw: str) -> tuple[URL, URL]:
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    expected = "expected postgresql://USER:PASSWORD@HOST:PORT/DATABASE"
    try:
        url = make_url(raw.strip())
        url.port  # noqa: B018  (a port that is not a number fails here)
    except (ArgumentError, ValueError):
        raise StoreError(f"{SETTING} is not a database URL; {expected}") from None
    if url.drivername not in _DRIVERS:
        raise StoreError(f"{SETTING} names a '{url.drivername}' database, not PostgreSQL; {expected}")
    if not url.host and not url.query.get("host"):
        raise StoreError(f"{SETTING} names no host; {expected}")
    return url.set(drivername="postgresql+psycopg2"), url.set(drivername="postgresql+asyncpg")


def _engines(url: URL, async_url: URL) -> tuple[Engine, Any]:
    from sqlalchemy import create_engine
    from sqlalchemy.ext.asyncio import create_async_engine

    engine = create_engine(url, pool_pre_ping=True,
                           connect_args={"connect_timeout": _CONNECT_TIMEOUT_SECONDS})
    # PGVectorStore takes both engines or neither; qa only uses the synchronous one, and an
    # async engine does not connect until it is used.
    return engine, create_async_engine(async_url)


@contextlib.contextmanager
def _database_errors(shown_url: str) -> Iterator[None]:
    """Database errors as StoreError naming the setting (password masked)."""
    from sqlalchemy.exc import DBAPIError

    try:
        yield
    except DBAPIError as exc:
        reason = " ".join(str(exc.orig).split()) if exc.orig is not None else str(exc)
        raise StoreError(f"the PostgreSQL store {SETTING}={shown_url} failed: {reason}") from exc


def _vector_store(url: URL, async_url: URL, engine: Any, async_engine: Any,
                  setup: bool = False) -> PGVectorStore:
    """PGVectorStore over the chunk table. ``engine`` may be a Connection inside a transaction:
    the store's sessions then join that transaction instead of committing on their own."""
    from llama_index.vector_stores.postgres import PGVectorStore

    return PGVectorStore(
        connection_string=url, async_connection_string=async_url, table_name=_TABLE_NAME,
        embed_dim=EMBEDDING_DIM, hybrid_search=True, text_search_config=_TEXT_SEARCH_CONFIG,
        perform_setup=setup, initialization_fail_on_error=True, engine=engine,
        async_engine=async_engine, hnsw_kwargs=dict(_HNSW),  # a copy: its set-up pops keys
    )


def _ensure_schema(engine: Engine, async_engine: Any, url: URL, async_url: URL,
                   shown: str) -> None:
    from sqlalchemy import text

    with engine.connect() as connection:
        present = connection.execute(text(
            "SELECT to_regclass('qa_index') IS NOT NULL AND to_regclass('qa_articles') IS NOT NULL"
            " AND to_regclass('qa_library') IS NOT NULL AND to_regclass(:chunks) IS NOT NULL"
            " AND to_regclass(:vectors) IS NOT NULL"),
            {"chunks": CHUNKS_TABLE, "vectors": _VECTOR_INDEX}).scalar()
        connection.rollback()  # end the read's implicit transaction before our own
        if present:
            return
        with connection.begin():
            connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _SCHEMA_LOCK})
            try:
                with connection.begin_nested():
                    connection.exec_driver_sql("CREATE EXTENSION IF NOT EXISTS vector")
            except Exception as exc:
                raise StoreError(
                    f"the database at {SETTING}={shown} lacks the pgvector extension and qa may "
                    "not create it; have an administrator run CREATE EXTENSION vector; in it") from exc
            for statement in _SCHEMA:
                connection.exec_driver_sql(statement)
            # The chunk table and its indexes as PGVectorStore declares them (the HNSW index
            # too, also on a database made before qa built one), created by its set-up on
            # first use (adding no nodes), inside this transaction.
            _vector_store(url, async_url, connection, async_engine, setup=True).add([])


class PostgresIndex:
    """The index of a set of articles in PostgreSQL; ``sync`` makes it hold exactly those."""

    def __init__(self, engine: Engine, async_engine: Any, url: URL, async_url: URL, shown_url: str,
                 embed_model: MiniLMEmbedding, chunk_size: int, chunk_overlap: int) -> None:
        self._engine = engine
        self._async_engine = async_engine
        self._url, self._async_url = url, async_url
        self.shown_url = shown_url
        self.embed_model = embed_model
        self.chunk_size = chunk_size
        self.chunk_overlap = chunk_overlap
        self._reader: PGVectorStore | None = None

    # --- reading -------------------------------------------------------------------------
    def _errors(self) -> contextlib.AbstractContextManager[None]:
        return _database_errors(self.shown_url)

    def state(self, connection: Connection | None = None) -> _State | None:
        """The qa_index row (None before the first build)."""
        from sqlalchemy import text

        query = text("SELECT generation, embedding_model, chunk_size, chunk_overlap, chunk_format,"
                     " chunks FROM qa_index WHERE id = 1")
        with self._errors():
            if connection is not None:
                row = connection.execute(query).first()
            else:
                with self._engine.connect() as reader:
                    row = reader.execute(query).first()
        return _State(*row) if row else None

    def exists(self) -> bool:
        """True once a build has completed."""
        return self.state() is not None

    def articles(self) -> list[ArticleRecord]:
        """The indexed articles, by id."""
        return sorted(self._records().values(), key=lambda r: r.article_id)

    def _records(self, connection: Connection | None = None) -> dict[str, ArticleRecord]:
        from sqlalchemy import text

        query = text("SELECT article_id, title, published, source, content_hash, chunks"
                     " FROM qa_articles")
        with self._errors():
            if connection is not None:
                rows = connection.execute(query).all()
            else:
                with self._engine.connect() as reader:
                    rows = reader.execute(query).all()
        return {row[0]: ArticleRecord(*row) for row in rows}

    def chunks(self) -> list[TextNode]:
        """Every indexed chunk, without vectors."""
        from llama_index.core.vector_stores.utils import metadata_dict_to_node
        from sqlalchemy import text

        with self._errors(), self._engine.connect() as reader:
            rows = reader.execute(text(f"SELECT text, metadata_ FROM {CHUNKS_TABLE}")).all()
        nodes = []
        for body, metadata in rows:
            node = metadata_dict_to_node(metadata)
            node.set_content(body)
            nodes.append(node)
        return nodes

    def reader_store(self) -> PGVectorStore:
        """llama-index's PGVectorStore over the chunk table, for queries."""
        if self._reader is None:
            self._reader = _vector_store(self._url, self._async_url, self._engine,
                                         self._async_engine)
        return self._reader

    def build_token(self) -> object:
        return None  # PostgresRetriever reads the live tables and notices new builds itself

    def retriever(self, embed_model: MiniLMEmbedding, candidates: int) -> PostgresRetriever:
        """Hybrid retrieval over the live index (Postgres full text + pgvector)."""
        return PostgresRetriever(self, embed_model, candidates)

    # --- writing -------------------------------------------------------------------------
    @contextlib.contextmanager
    def writing(self) -> Iterator[Connection]:
        """Hold the build lock on a connection of its own (one build at a time across every
        process and thread sharing the store), and yield that connection."""
        from sqlalchemy import text
        from sqlalchemy.exc import OperationalError

        with self._errors(), self._engine.connect() as connection:
            connection.exec_driver_sql(f"SET lock_timeout = '{_LOCK_WAIT}'")
            try:
                connection.execute(text("SELECT pg_advisory_lock(:key)"), {"key": _BUILD_LOCK})
            except OperationalError as exc:
                raise IndexBuildError(
                    f"another qa has been indexing into {SETTING}={self.shown_url} for over "
                    f"{_LOCK_WAIT}; try again when it has finished") from exc
            connection.exec_driver_sql("RESET lock_timeout")
            connection.commit()
            try:
                yield connection
            finally:
                connection.rollback()
                connection.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": _BUILD_LOCK})
                connection.commit()

    def sync(self, articles: list[Article] | Callable[[], list[Article]],
             progress: Progress | None = None, rebuild: bool = False) -> IndexReport:
        """Index exactly ``articles``: embed new and edited ones, delete removed ones, in one
        transaction. ``articles`` may be a function listing them, called once the build lock is
        held, so a build that waited sees the library as the one before it left it. An index of
        another embedding model or chunking is rebuilt only when ``rebuild`` is set; otherwise
        IndexBuildError says how to proceed."""
        with self.writing() as writer:
            try:
                wanted = articles() if callable(articles) else articles
                with self._errors(), writer.begin():
                    return self._sync(writer, wanted, progress, rebuild)
            except (IndexBuildError, StoreError):
                raise
            except Exception as exc:  # the index stays as it was: the transaction rolled back
                raise IndexBuildError(
                    f"indexing failed ({type(exc).__name__}: {exc}); the previous index is unchanged"
                ) from exc

    def _layout(self) -> tuple[str, int, int, int]:
        return MODEL_NAME, self.chunk_size, self.chunk_overlap, CHUNK_FORMAT

    def _sync(self, connection: Connection, articles: list[Article], progress: Progress | None,
              rebuild: bool) -> IndexReport:
        from sqlalchemy import text

        old = self.state(connection)
        if old is not None and not rebuild and (
                old.embedding_model, old.chunk_size, old.chunk_overlap, old.chunk_format
        ) != self._layout():
            raise IndexBuildError(
                f"the index in {SETTING} was built with {old.embedding_model}, chunk size "
                f"{old.chunk_size} and overlap {old.chunk_overlap} (chunk format {old.chunk_format});"
                f" these settings give {MODEL_NAME}, {self.chunk_size} and {self.chunk_overlap} "
                f"(format {CHUNK_FORMAT}). Set QA_CHUNK_SIZE and QA_CHUNK_OVERLAP to match, or run "
                "`qa index --rebuild` to re-embed every article for every process sharing it")
        full = old is None or rebuild
        wanted = {article.article_id: article for article in articles}
        previous = {} if full else self._records(connection)
        report = plan_changes(previous, wanted)
        if not full and not report.changed:
            return report

        store = _vector_store(self._url, self._async_url, connection, self._async_engine)
        if full:  # everything counts as added
            connection.execute(text(f"DELETE FROM {CHUNKS_TABLE}"))
        for article_id in report.removed + report.updated:
            store.delete(article_id)
        nodes = chunk_articles([wanted[i] for i in report.added + report.updated],
                               self.chunk_size, self.chunk_overlap)
        embed_and_add(self.embed_model, store, nodes, progress)
        report.chunks_embedded = len(nodes)

        records = article_records(wanted, nodes, previous)
        connection.execute(text("DELETE FROM qa_articles"))
        if records:
            connection.execute(
                text("INSERT INTO qa_articles (article_id, title, published, source, content_hash,"
                     " chunks) VALUES (:article_id, :title, :published, :source, :content_hash,"
                     " :chunks)"),
                [asdict(record) for record in records.values()])
        chunks = connection.execute(text(f"SELECT count(*) FROM {CHUNKS_TABLE}")).scalar()
        connection.execute(
            text("INSERT INTO qa_index VALUES (1, :generation, :model, :size, :overlap, :format,"
                 " :chunks) ON CONFLICT (id) DO UPDATE SET generation = excluded.generation,"
                 " embedding_model = excluded.embedding_model, chunk_size = excluded.chunk_size,"
                 " chunk_overlap = excluded.chunk_overlap, chunk_format = excluded.chunk_format,"
                 " chunks = excluded.chunks"),
            {"generation": (old.generation + 1) if old else 1, "model": MODEL_NAME,
             "size": self.chunk_size, "overlap": self.chunk_overlap, "format": CHUNK_FORMAT,
             "chunks": chunks})
        return report


class PostgresLibrary:
    """Added articles as rows of qa_library, shared by every process using the store."""

    def __init__(self, engine: Engine, shown_url: str) -> None:
        self._engine = engine
        self._shown_url = shown_url

    @contextlib.contextmanager
    def adding(self, paths: Sequence[Path]) -> Iterator[None]:
        """Store copies of ``paths`` (one transaction); if the block raises, put back the rows
        as they were, so the library stays as the index has it."""
        from sqlalchemy import text

        contents = {}
        for path in paths:
            try:
                contents[path] = path.read_bytes()
            except OSError as exc:
                raise ArticleError(path, f"cannot be read ({exc.strerror})") from exc
        names = [path.name for path in paths]
        upsert = text("INSERT INTO qa_library VALUES (:name, :article_id, :content) ON CONFLICT"
                      " (file_name) DO UPDATE SET content = excluded.content")
        with _database_errors(self._shown_url), self._engine.begin() as connection:
            previous = dict(connection.execute(
                text("SELECT file_name, content FROM qa_library WHERE file_name = ANY(:names)"),
                {"names": names}).all()) if names else {}
            for path, content in contents.items():
                connection.execute(upsert, {"name": path.name, "article_id": path.stem,
                                            "content": content})
        try:
            yield
        except Exception:
            with (contextlib.suppress(StoreError), _database_errors(self._shown_url),
                  self._engine.begin() as connection):
                for path in paths:
                    if path.name in previous:
                        connection.execute(upsert, {"name": path.name, "article_id": path.stem,
                                                    "content": previous[path.name]})
                    else:
                        connection.execute(text("DELETE FROM qa_library WHERE file_name = :name"),
                                           {"name": path.name})
            raise

    @contextlib.contextmanager
    def removing(self, article_id: str) -> Iterator[bool]:
        """Delete the article's rows (one transaction); if the block raises, put them back."""
        from sqlalchemy import text

        with _database_errors(self._shown_url), self._engine.begin() as connection:
            removed = connection.execute(
                text("DELETE FROM qa_library WHERE article_id = :id "
                     "RETURNING file_name, article_id, content"), {"id": article_id}).all()
        try:
            yield bool(removed)
        except Exception:
            with (contextlib.suppress(StoreError), _database_errors(self._shown_url),
                  self._engine.begin() as connection):
                for name, stem, content in removed:
                    connection.execute(
                        text("INSERT INTO qa_library VALUES (:name, :article_id, :content) "
                             "ON CONFLICT (file_name) DO NOTHING"),
                        {"name": name, "article_id": stem, "content": content})
            raise

    def load(self) -> tuple[list[Article], list[ArticleError]]:
        from sqlalchemy import text

        with _database_errors(self._shown_url), self._engine.connect() as connection:
            rows = connection.execute(
                text("SELECT file_name, content FROM qa_library ORDER BY file_name")).all()
        articles, problems = [], []
        for name, content in rows:
            try:
                articles.append(_parse(name, content))
            except ArticleError as problem:
                problems.append(problem)
        return articles, problems

    def read(self, article_id: str) -> Article | None:
        from sqlalchemy import text

        with _database_errors(self._shown_url), self._engine.connect() as connection:
            row = connection.execute(
                text("SELECT file_name, content FROM qa_library WHERE article_id = :id"
                     " ORDER BY file_name LIMIT 1"), {"id": article_id}).first()
        try:
            return _parse(*row) if row else None
        except ArticleError:
            return None


def _parse(file_name: str, content: bytes) -> Article:
    return parse_article(Path(file_name), bytes(content), source=f"{_LIBRARY_SOURCE}/{file_name}")


class _FullTextRetriever(BaseRetriever):
    """Postgres full-text search through PGVectorStore's text-search mode (llama-index's
    VectorIndexRetriever in that mode would embed the query a second time, for nothing)."""

    def __init__(self, store: PGVectorStore, top_k: int) -> None:
        super().__init__()
        self._store = store
        self._top_k = top_k

    def _retrieve(self, query_bundle: QueryBundle) -> list[NodeWithScore]:
        from llama_index.core.vector_stores.types import VectorStoreQuery, VectorStoreQueryMode

        result = self._store.query(VectorStoreQuery(
            query_str=query_bundle.query_str, mode=VectorStoreQueryMode.TEXT_SEARCH,
            similarity_top_k=self._top_k, sparse_top_k=self._top_k))
        return [NodeWithScore(node=node, score=float(score))
                for node, score in zip(result.nodes, result.similarities or [])]


class PostgresRetriever:
    """Top passages from Postgres full text + pgvector, fused by reciprocal rank as
    ``HybridRetriever`` fuses BM25 and LanceDB. It reads the live index: each query sees the
    last committed build, whichever process made it."""

    def __init__(self, index: PostgresIndex, embed_model: MiniLMEmbedding, candidates: int) -> None:
        from llama_index.core import VectorStoreIndex

        from qa.retrieval import FusionByDepth

        self._index = index
        store = index.reader_store()
        vectors = VectorStoreIndex.from_vector_store(store, embed_model=embed_model)
        self._fusion = FusionByDepth(lambda depth: [vectors.as_retriever(similarity_top_k=depth),
                                                    _FullTextRetriever(store, depth)], candidates)
        self._generation: int | None = None
        self._documents = 0
        self._frequencies: dict[str, int] = {}

    def _refresh(self) -> _State | None:
        state = self._index.state()
        generation = state.generation if state else None
        if generation != self._generation:  # another build landed: counts are stale
            self._generation = generation
            self._documents = state.chunks if state else 0
            self._frequencies = {}
        if state is not None and state.embedding_model != MODEL_NAME:
            raise IndexBuildError(
                f"the index in {SETTING} was built with the embedding model {state.embedding_model},"
                f" and this qa embeds questions with {MODEL_NAME}; run `qa index --rebuild`")
        return state

    def retrieve(self, query: str, top_k: int) -> list[Passage]:
        """The ``top_k`` best passages for ``query``, best first."""
        state = self._refresh()
        if state is None or state.chunks == 0:
            return []
        with self._index._errors():
            hits = self._fusion.retrieve(query, top_k)
        return [Passage.from_node(hit) for hit in hits]

    def document_frequency(self, term: str) -> int | None:
        """How many chunks contain a stemmed term (None while the index is empty)."""
        if self._generation is None:
            self._refresh()
        if not self._documents:
            return None
        if term not in self._frequencies:
            from sqlalchemy import text

            with self._index._errors(), self._index._engine.connect() as reader:
                self._frequencies[term] = reader.execute(
                    text(f"SELECT count(*) FROM {CHUNKS_TABLE}"
                         " WHERE text_search_tsv @@ plainto_tsquery('simple', :term)"),
                    {"term": term}).scalar()
        return self._frequencies[term]

    def term_weight(self, term: str) -> float:
        """Inverse document frequency of a stemmed term over the chunks."""
        return idf_weight(self.document_frequency(term), self._documents)

    def previous_passage(self, passage: Passage) -> Passage | None:
        """The chunk before ``passage`` in its article; None for an article's first chunk."""
        wanted = previous_chunk_id(passage.chunk_id)
        if wanted is None:
            return None
        with self._index._errors():
            nodes = self._index.reader_store().get_nodes(node_ids=[wanted])
        if not nodes:
            return None
        return Passage.from_node(NodeWithScore(node=nodes[0], score=0.0))
