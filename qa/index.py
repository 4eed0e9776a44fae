"""The article index on disk: chunk store + BM25, kept in step with a set of articles.

Layout of ``<data_dir>/index/``::

    manifest.json     what the last *complete* build holds; written last, atomically
    lance-N/          the chunk store (LanceDB); N changes only on a full rebuild. From
                      ``vector_index_min_chunks`` chunks it holds a vector index, and from
                      ``full_text_min_chunks`` a full-text index that replaces bm25-V/
    bm25-V/           the in-memory BM25 index for store version V (small indexes)

Crash safety: a build writes new store versions and a new BM25 folder, then replaces
``manifest.json`` in one rename. Readers open the store *at the manifest's version*, so
a build killed half-way is invisible to them, and the next build first rolls the store back
to that version. Re-indexing compares a hash of each article's normalized text (not file
times), so unchanged articles cost no embedding work.
"""

from __future__ import annotations

import contextlib
import errno
import json
import logging
import os
import shutil
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from llama_index.core.schema import TextNode

from qa.chunking import CHUNK_FORMAT, chunk_articles
from qa.corpus import Article
from qa.embedding import MODEL_NAME, MiniLMEmbedding
from qa.errors import IndexBuildError
from qa.library import FolderLibrary, Library
from qa.retrieval import KEYWORD_FORMAT, HybridRetriever, PassageRetriever, build_bm25

if TYPE_CHECKING:  # imported when a store is opened: LanceDB is slow to import
    from llama_index.core.vector_stores.types import BasePydanticVectorStore

    from qa.settings import Settings
    from qa.store import ChunkStore

__all__ = ["ArticleIndex", "ArticleRecord", "IndexReport", "Progress", "SearchIndex", "open_index",
           "plan_changes", "article_records", "embed_and_add"]

MANIFEST_FORMAT = 1
_log = logging.getLogger(__name__)
_ADD_BATCH = 64

Progress = Callable[[int, int], None]
"""Called as ``progress(chunks_done, chunks_total)`` while a build embeds chunks."""


@dataclass(frozen=True)
class ArticleRecord:
    """What the index knows of one article."""

    article_id: str
    title: str
    published: str
    source: str
    content_hash: str
    chunks: int


@dataclass
class IndexReport:
    """What a build changed."""

    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    chunks_embedded: int = 0

    @property
    def changed(self) -> bool:
        return bool(self.added or self.updated or self.removed)


class SearchIndex(Protocol):
    """What the Assistant needs of an index; ``ArticleIndex`` (LanceDB files) and
    ``qa.pgstore.PostgresIndex`` (PostgreSQL) are the two, chosen by ``open_index``."""

    def exists(self) -> bool:
        """True once a build has completed."""

    def articles(self) -> list[ArticleRecord]:
        """The indexed articles, by id."""

    def chunks(self) -> list[TextNode]:
        """Every indexed chunk, without vectors."""

    def sync(self, articles: list[Article] | Callable[[], list[Article]],
             progress: Progress | None = None, rebuild: bool = False) -> IndexReport:
        """Index exactly ``articles`` (or what a function listing them returns, called once no
        other build runs); readers see the index before or after, never part of it."""

    def retriever(self, embed_model: MiniLMEmbedding, candidates: int) -> PassageRetriever:
        """Hybrid (keyword + vector) retrieval over the index."""

    def build_token(self) -> object:
        """What names the build a new reader would open: when it differs from the one a
        retriever was opened at, another process has built since, and readers reopen."""


def open_index(settings: Settings, embed_model: MiniLMEmbedding) -> tuple[SearchIndex, Library]:
    """The index and the library of added articles that ``settings`` choose: PostgreSQL when
    ``store_url`` (QA_STORE_URL) is set, else LanceDB files under ``data_dir``."""
    if settings.store_url is not None:
        from qa.pgstore import open_postgres  # needs the 'postgres' extra; it says so if missing

        return open_postgres(settings, embed_model)
    index = ArticleIndex(
        settings.index_dir, embed_model, settings.chunk_size, settings.chunk_overlap,
        vector_index_min_chunks=settings.vector_index_min_chunks,
        full_text_min_chunks=settings.full_text_min_chunks,
        nprobes=settings.vector_nprobes, refine_factor=settings.vector_refine_factor)
    return index, FolderLibrary(settings.articles_dir)


def plan_changes(previous: dict[str, ArticleRecord], wanted: dict[str, Article]) -> IndexReport:
    """Which of ``wanted`` are new, edited (by content hash) or unchanged against the index's
    ``previous`` records, and which indexed articles are no longer wanted."""
    report = IndexReport()
    for article_id, article in wanted.items():
        record = previous.get(article_id)
        if record is None:
            report.added.append(article_id)
        elif record.content_hash != article.content_hash:
            report.updated.append(article_id)
        else:
            report.unchanged.append(article_id)
    report.removed = sorted(set(previous) - set(wanted))
    return report


def article_records(wanted: dict[str, Article], nodes: list[TextNode],
                    previous: dict[str, ArticleRecord]) -> dict[str, ArticleRecord]:
    """The records of ``wanted`` after a build that embedded ``nodes`` (the rest kept their chunks)."""
    counts: dict[str, int] = {}
    for node in nodes:
        counts[node.ref_doc_id] = counts.get(node.ref_doc_id, 0) + 1
    return {
        article_id: ArticleRecord(
            article_id=article_id, title=article.title,
            published=article.published.isoformat() if article.published else "",
            source=article.source, content_hash=article.content_hash,
            chunks=counts.get(article_id, previous.get(article_id).chunks
                              if article_id in previous else 0),
        )
        for article_id, article in wanted.items()
    }


def embed_and_add(embed_model: MiniLMEmbedding, store: BasePydanticVectorStore,
                  nodes: list[TextNode], progress: Progress | None) -> None:
    """Embed ``nodes`` in batches and add them to ``store``, reporting progress."""
    for first in range(0, len(nodes), _ADD_BATCH):
        batch = nodes[first:first + _ADD_BATCH]
        vectors = embed_model.embed([n.get_content(metadata_mode="embed") for n in batch])
        for node, vector in zip(batch, vectors):
            node.embedding = vector.tolist()
        store.add(batch)
        for node in batch:  # written: as Python floats a vector costs ~12 kB a chunk to keep
            node.embedding = None
        if progress:
            progress(first + len(batch), len(nodes))


@dataclass
class _Manifest:
    store_dir: str | None = None
    table_version: int | None = None
    bm25_dir: str | None = None
    embedding_model: str = MODEL_NAME
    chunk_size: int = 0
    chunk_overlap: int = 0
    chunk_format: int = 1  # indexes written before CHUNK_FORMAT existed hold format 1
    keyword_format: int = 1  # and before KEYWORD_FORMAT, BM25 format 1
    articles: dict[str, ArticleRecord] = field(default_factory=dict)

    @classmethod
    def read(cls, path: Path) -> _Manifest | None:
        if not path.exists():
            return None
        try:
            raw = json.loads(path.read_text(encoding="utf-8"))
            if raw.get("format") != MANIFEST_FORMAT:
                return None
            articles = {key: ArticleRecord(**value) for key, value in raw["articles"].items()}
            return cls(store_dir=raw["store_dir"], table_version=raw["table_version"],
                       bm25_dir=raw["bm25_dir"], embedding_model=raw["embedding_model"],
                       chunk_size=raw["chunk_size"], chunk_overlap=raw["chunk_overlap"],
                       chunk_format=raw.get("chunk_format", 1),
                       keyword_format=raw.get("keyword_format", 1),
                       articles=articles)
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise IndexBuildError(
                f"the index manifest {path} is damaged ({exc}); run `qa index --rebuild`"
            ) from exc

    def write(self, path: Path) -> None:
        payload = asdict(self)
        payload["format"] = MANIFEST_FORMAT
        temporary = path.with_suffix(".tmp")
        with open(temporary, "w", encoding="utf-8") as handle:
            json.dump(payload, handle, indent=1, sort_keys=True)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
        _fsync_dir(path.parent)


_DISK_ERRNOS = {errno.ENOSPC, errno.EROFS, errno.EACCES, errno.EPERM, errno.EDQUOT, errno.EFBIG}
# How LanceDB (Rust) and other native code report those errors in their messages.
_DISK_MESSAGES = {
    "No space left on device": errno.ENOSPC, "os error 28": errno.ENOSPC,
    "Read-only file system": errno.EROFS, "os error 30": errno.EROFS,
    "Permission denied": errno.EACCES, "os error 13": errno.EACCES,
    "Disk quota exceeded": errno.EDQUOT, "File too large": errno.EFBIG,
}


def _disk_error(error: BaseException) -> OSError | None:
    """The disk problem behind ``error`` (a full or read-only disk, no permission), if any."""
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, OSError) and current.errno in _DISK_ERRNOS:
            return current
        for text, number in _DISK_MESSAGES.items():
            if text in str(current):
                return OSError(number, os.strerror(number))
        current = current.__cause__ or current.__context__
    return None


def _cannot_write(folder: Path, error: OSError) -> str:
    reason = error.strerror or str(error)
    fix = ("free some space there" if error.errno in (errno.ENOSPC, errno.EDQUOT, errno.EFBIG)
           else "make it writable")
    return (f"cannot write the index in {folder} ({reason}); the previous index is unchanged. "
            f"{fix[0].upper()}{fix[1:]}, or point QA_DATA_DIR (--data-dir) at another folder, "
            "and run `qa index` again")


def _fsync_dir(folder: Path) -> None:
    with contextlib.suppress(OSError):
        descriptor = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(descriptor)
        finally:
            os.close(descriptor)


class ArticleIndex:
    """The persisted index of a set of articles; ``sync`` makes it hold exactly those articles."""

    def __init__(self, folder: Path, embed_model: MiniLMEmbedding, chunk_size: int,
                 chunk_overlap: int, *, vector_index_min_chunks: int = 50_000,
                 full_text_min_chunks: int = 50_000, nprobes: int = 20,
                 refine_factor: int | None = 2) -> None:
        self.folder = folder
        self.embed_model = embed_model
        self.chunk_size = chunk_size
        self.chunk_overlap = chunk_overlap
        self.vector_index_min_chunks = vector_index_min_chunks
        self.full_text_min_chunks = full_text_min_chunks
        self.nprobes = nprobes
        self.refine_factor = refine_factor

    # --- reading -------------------------------------------------------------------------
    @property
    def manifest_path(self) -> Path:
        return self.folder / "manifest.json"

    def _manifest(self) -> _Manifest | None:
        return _Manifest.read(self.manifest_path)

    def exists(self) -> bool:
        """True once a build has completed."""
        return self._manifest() is not None

    def build_token(self) -> object:
        # Every build replaces manifest.json by a rename: a new inode. One stat per question.
        try:
            stat = self.manifest_path.stat()
        except FileNotFoundError:
            return None
        return stat.st_ino, stat.st_mtime_ns, stat.st_size

    def articles(self) -> list[ArticleRecord]:
        """The indexed articles, by id."""
        manifest = self._manifest()
        return sorted(manifest.articles.values(), key=lambda r: r.article_id) if manifest else []

    def open_store(self) -> ChunkStore | None:
        """The chunk store as of the last complete build (None while the index is empty)."""
        return self._store_of(self._manifest())

    def _store_of(self, manifest: _Manifest | None) -> ChunkStore | None:
        if manifest is None or manifest.store_dir is None or manifest.table_version is None:
            return None
        store = self._open(manifest.store_dir)
        if not store.has_table:
            raise IndexBuildError(
                f"the chunk store in {self.folder} is missing; run `qa index --rebuild`"
            )
        store.pin(manifest.table_version)
        return store

    def chunks(self) -> list[TextNode]:
        """Every chunk of the last complete build, without vectors."""
        store = self.open_store()
        return store.all_nodes() if store else []

    def retriever(self, embed_model: MiniLMEmbedding, candidates: int) -> HybridRetriever:
        """Hybrid retrieval over the last complete build (BM25 or the store's full-text index,
        and the store's vectors)."""
        manifest = self._manifest()  # read once: a build landing meanwhile must not mix in
        return HybridRetriever(self._store_of(manifest), self._bm25_folder_of(manifest),
                               embed_model, candidates,
                               manifest.keyword_format if manifest else KEYWORD_FORMAT)

    def bm25_folder(self) -> Path | None:
        """Folder of the persisted BM25 index of the last complete build."""
        return self._bm25_folder_of(self._manifest())

    def _bm25_folder_of(self, manifest: _Manifest | None) -> Path | None:
        if manifest is None or manifest.bm25_dir is None:
            return None
        return self.folder / manifest.bm25_dir

    # --- writing -------------------------------------------------------------------------
    def sync(self, articles: list[Article] | Callable[[], list[Article]],
             progress: Progress | None = None, rebuild: bool = False) -> IndexReport:
        """Index exactly ``articles``: embed new and edited ones, delete removed ones.

        One build runs at a time on a data directory: a second one (another process or thread)
        waits for the first to finish, saying so on the ``qa`` logger. ``articles`` may be a
        function listing them, called once the build lock is held, so that a build that waited
        sees the library as the other one left it.

        Raises IndexBuildError if the build fails; the previous complete index stays in place.
        """
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            with self._build_lock():
                return self._sync(articles() if callable(articles) else articles, progress, rebuild)
        except IndexBuildError:
            raise
        except Exception as exc:  # the store and BM25 raise many types; the index stays whole
            disk = _disk_error(exc)
            if disk is not None:
                raise IndexBuildError(_cannot_write(self.folder, disk)) from exc
            raise IndexBuildError(
                f"indexing failed ({type(exc).__name__}: {exc}); the previous index is unchanged"
            ) from exc

    @contextlib.contextmanager
    def _build_lock(self) -> Iterator[None]:
        import fcntl

        # "a+", not "w": opening must not erase the process id the holder wrote.
        with open(self.folder / ".build.lock", "a+") as handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                handle.seek(0)
                holder = handle.read().strip() or "unknown"
                _log.info("waiting for another `qa index` on %s to finish (process %s)",
                          self.folder.parent, holder)
                fcntl.flock(handle, fcntl.LOCK_EX)
            with contextlib.suppress(OSError):  # only to name the holder; a full disk is no reason to stop
                handle.seek(0)
                handle.truncate()
                handle.write(str(os.getpid()))
                handle.flush()
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def _sync(self, articles: list[Article], progress: Progress | None,
              rebuild: bool) -> IndexReport:
        old = self._manifest()
        wanted = {article.article_id: article for article in articles}
        same_layout = (
            old is not None and old.store_dir is not None and not rebuild
            and old.embedding_model == MODEL_NAME
            and (old.chunk_size, old.chunk_overlap) == (self.chunk_size, self.chunk_overlap)
            and old.chunk_format == CHUNK_FORMAT  # the store's columns follow the chunks' metadata
        )
        previous = old.articles if (old and same_layout) else {}
        report = plan_changes(previous, wanted)
        if old is not None and old.articles and not same_layout:
            report.removed = []  # a full rebuild: everything counts as added, nothing removed
        if same_layout and not report.changed and self._search_indexes_match(old):
            self._remove_leftovers(old)
            return report

        if same_layout:
            store_dir = old.store_dir
            store = self._open(store_dir)
            if old.table_version is not None and store.has_table:
                if store.latest_version() != old.table_version:
                    store.reset_to(old.table_version)  # drop what a killed build wrote
                for article_id in report.removed + report.updated:
                    store.delete(article_id)
        else:
            store_dir = self._fresh_store_dir(old)
            store = self._open(store_dir)

        to_embed = [wanted[i] for i in report.added + report.updated]
        nodes = chunk_articles(to_embed, self.chunk_size, self.chunk_overlap)
        embed_and_add(self.embed_model, store, nodes, progress)
        report.chunks_embedded = len(nodes)
        records = article_records(wanted, nodes, previous)
        bm25_dir = None
        if store.has_table:
            store.ensure_vector_index(self.vector_index_min_chunks)
            if store.count() >= self.full_text_min_chunks:
                store.ensure_text_index()
            elif store.has_text_index():
                store.drop_text_index()  # shrank below the threshold: back to in-memory BM25
        table_version = store.version() if store.has_table else None
        if not (store.has_table and store.has_text_index()):
            bm25_dir = self._write_bm25(store, table_version)
        new = _Manifest(store_dir=store_dir, table_version=table_version, bm25_dir=bm25_dir,
                        chunk_size=self.chunk_size, chunk_overlap=self.chunk_overlap,
                        chunk_format=CHUNK_FORMAT, keyword_format=KEYWORD_FORMAT,
                        articles=records)
        new.write(self.manifest_path)
        self._remove_leftovers(new)
        return report

    def _search_indexes_match(self, manifest: _Manifest) -> bool:
        """Whether the store's vector and full-text indexes are the ones its size calls for
        (a changed threshold setting takes effect on the next sync, with no change of articles)."""
        store = self.open_store()
        if store is None:
            return True
        rows = store.count()
        return ((store.vector_index_rows() is not None) == (rows >= self.vector_index_min_chunks)
                and (manifest.bm25_dir is None) == (rows >= self.full_text_min_chunks)
                and (manifest.bm25_dir is None or manifest.keyword_format == KEYWORD_FORMAT))

    def _open(self, store_dir: str) -> ChunkStore:
        from qa.store import open_chunk_store

        return open_chunk_store(self.folder / store_dir, nprobes=self.nprobes,
                                refine_factor=self.refine_factor)

    def _write_bm25(self, store: ChunkStore, table_version: int | None) -> str | None:
        nodes = store.all_nodes()
        if not nodes:
            return None
        name = f"bm25-{os.path.basename(store.uri)}-{table_version}-k{KEYWORD_FORMAT}"
        final = self.folder / name
        temporary = self.folder / (name + ".tmp")
        shutil.rmtree(temporary, ignore_errors=True)
        build_bm25(nodes).persist(str(temporary), show_progress=False)
        shutil.rmtree(final, ignore_errors=True)
        os.replace(temporary, final)
        return name

    def _fresh_store_dir(self, old: _Manifest | None) -> str:
        taken = {p.name for p in self.folder.iterdir()}
        number = 1
        while f"lance-{number}" in taken or (old and old.store_dir == f"lance-{number}"):
            number += 1
        return f"lance-{number}"

    def _remove_leftovers(self, manifest: _Manifest) -> None:
        """Delete store and BM25 folders the manifest no longer names (old or half-built)."""
        keep = {manifest.store_dir, manifest.bm25_dir, "manifest.json", ".build.lock"}
        for child in self.folder.iterdir():
            if child.name not in keep and (child.name.startswith(("lance-", "bm25-"))):
                shutil.rmtree(child, ignore_errors=True)
