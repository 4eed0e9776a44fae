"""``Assistant``: the product. The CLI, the chat UI, the HTTP API and the evals call only this."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from qa.answer import Answer
from qa.answering import Answerer, Turn
from qa.backends import build_generator
from qa.chat import Chat
from qa.corpus import Article, find_article_files, load_articles, read_article
from qa.embedding import MiniLMEmbedding
from qa.errors import ArticleError
from qa.index import ArticleRecord, IndexReport, Progress, open_index
from qa.ranking import build_ranker
from qa.retrieval import Passage, PassageRetriever
from qa.settings import Settings, load_settings

__all__ = ["Assistant", "IndexResult"]

T = TypeVar("T")
_ATTEMPTS_ACROSS_BUILDS = 4  # a question meets at most this many builds landing while it runs


@dataclass
class IndexResult:
    """What an indexing call did, and the files it skipped (each with the reason)."""

    report: IndexReport
    skipped: list[ArticleError] = field(default_factory=list)


class Assistant:
    """Answers questions over the indexed articles, with verified citations.

    ``Assistant()`` uses the settings from the environment; keyword arguments override
    them (``Assistant(backend="openai", openai_base_url="http://127.0.0.1:8000/v1")``).
    The first use builds the index of the seed articles.
    """

    def __init__(self, backend: str | None = None, *, settings: Settings | None = None,
                 _embed_model: MiniLMEmbedding | None = None, **overrides: Any) -> None:
        if backend is not None:
            overrides["backend"] = backend
        if settings is None or overrides:
            settings = load_settings(settings, **overrides)
        self.settings = settings
        self.embed_model = _embed_model or MiniLMEmbedding(
            threads=settings.embed_threads, embed_batch_size=settings.embed_batch_size,
            graph_cache_dir=settings.models_dir)
        self.index, self.library = open_index(settings, self.embed_model)
        self._generator = build_generator(settings)
        self._built: Answerer | None = None
        self._built_token: object = None
        self._answerer_lock = threading.Lock()
        if not self.index.exists():
            self.reindex()
        else:
            self._load()
        # Open the index (LanceDB's import is half of a cold start) and load the sentence
        # splitter and the embedder while the caller gets on with its work; the first question
        # waits only for what is not loaded yet. Not a daemon: a process that exits while a
        # daemon thread is inside ONNX Runtime or LanceDB aborts ("FATAL: exception not
        # rethrown", 1 run in 20 of `Assistant()` then exit); Python waits for this one.
        threading.Thread(target=self._warm_up, name="qa-warm-up").start()

    def _warm_up(self) -> None:
        from qa.sentences import sentence_spans

        try:
            self._ready()
            sentence_spans("Warm up.")
            self.embed_model._load()
        except Exception:  # noqa: BLE001 - the first question meets the same error and reports it
            pass

    # --- answering -------------------------------------------------------------------------
    @property
    def backend(self) -> str:
        """The name of the answer backend in use."""
        return self.settings.backend

    def ask(self, question: str, history: Sequence[Turn] = ()) -> Answer:
        """Answer one question; ``history`` holds earlier turns a follow-up may refer to
        (``chat()`` keeps it for you)."""
        return self._on_current_build(lambda answerer: answerer.ask(question, history))

    def stream(self, question: str, history: Sequence[Turn] = ()) -> Iterator[str | Answer]:
        """Yield the answer text as it is generated, then the verified Answer."""
        return self._stream(self._ready(), question, history)

    def _stream(self, answerer: Answerer, question: str,
                history: Sequence[Turn], attempt: int = 1) -> Iterator[str | Answer]:
        started = False
        try:
            for item in answerer.stream(question, history):
                started = True
                yield item
        except Exception:
            if started or attempt == _ATTEMPTS_ACROSS_BUILDS or not self._outdated(answerer):
                raise
            yield from self._stream(self._ready(), question, history, attempt + 1)

    def _on_current_build(self, use: Callable[[Answerer], T]) -> T:
        """``use(answerer)``, again on the newest build each time a build landed while it ran
        (several rebuilds in a row can land during one question)."""
        answerer = self._ready()
        for _ in range(_ATTEMPTS_ACROSS_BUILDS - 1):
            try:
                return use(answerer)
            except Exception:
                if not self._outdated(answerer):
                    raise
            answerer = self._ready()
        return use(answerer)

    def _outdated(self, answerer: Answerer) -> bool:
        """Whether a build has landed since ``answerer`` opened the index. A full rebuild (here
        or in another process) deletes the store folder it read, so a question that was being
        answered just then fails, and is asked again of the newest build."""
        with self._answerer_lock:
            return answerer is not self._built or self.index.build_token() != self._built_token

    def using(self, **overrides: Any) -> Assistant:
        """Another Assistant over the same index with some settings changed
        (``assistant.using(backend="openai", openai_base_url=...)``); the embedder is shared."""
        return Assistant(settings=load_settings(self.settings, **overrides),
                         _embed_model=self.embed_model)

    def retrieve(self, query: str, top_k: int | None = None) -> list[Passage]:
        """The passages hybrid retrieval finds for ``query`` (best first), before answering."""
        return self._on_current_build(
            lambda answerer: answerer.retriever.retrieve(query, top_k or self.settings.top_k))

    def passages_read(self, question: str, history: Sequence[Turn] = ()) -> list[Passage]:
        """The passages the answer step reads to answer ``question`` (best first): retrieval's,
        reordered by their best sentences, and searched deeper for a period the question states.
        Where retrieval's passages hold the answer and these do not, sentence ranking missed it."""
        return self._on_current_build(lambda answerer: answerer.passages_read(question, history))

    @property
    def retriever(self) -> PassageRetriever:
        """The hybrid keyword + vector retriever over the current index."""
        return self._ready().retriever

    def chat(self) -> Chat:
        """A new conversation, in which follow-up questions use the earlier turns."""
        return Chat(self)

    # --- the corpus ------------------------------------------------------------------------
    def articles(self) -> list[ArticleRecord]:
        """The indexed articles."""
        return self.index.articles()

    def article_body(self, record: ArticleRecord) -> str | None:
        """The current body of an indexed article (citation offsets index into it): from its
        file, else the library's copy, else the seeds (a shared store's records name files on
        the machine that indexed them); None if none can be read."""
        found = [Path(record.source)] if Path(record.source).is_file() else []
        if not found:
            article = self.library.read(record.article_id)
            if article is not None:
                return article.body
            seeds = self.settings.seeds_dir
            found = [p for p in find_article_files([seeds]) if p.stem == record.article_id] \
                if seeds.is_dir() else []
        try:
            return read_article(found[0]).body if found else None
        except ArticleError:
            return None

    def add_articles(self, paths: Iterable[str | Path],
                     progress: Progress | None = None) -> IndexResult:
        """Add or update articles from files and folders, and index them.

        Files that cannot be read are skipped and reported in ``IndexResult.skipped``; a path
        that does not exist raises ArticleError. A copy of each article is kept in the data
        directory (or the PostgreSQL store), so the index can be rebuilt without the originals.
        """
        files = find_article_files(paths)
        skipped: list[ArticleError] = []
        readable = []
        for path in files:
            try:
                read_article(path)
            except ArticleError as problem:
                skipped.append(problem)
                continue
            readable.append(path)
        with self.library.adding(readable):  # undone if indexing fails
            result = self.reindex(progress=progress)
        result.skipped = skipped + result.skipped
        return result

    def remove_article(self, article_id: str) -> IndexResult:
        """Remove an added article (by id) from the library and the index; if the index cannot
        be rebuilt, the article stays in both."""
        with self.library.removing(article_id) as found:  # put back if indexing fails
            if not found:
                raise ArticleError(article_id, "no added article has this id (seed articles stay)")
            return self.reindex()

    def reindex(self, progress: Progress | None = None, rebuild: bool = False) -> IndexResult:
        """Bring the index in step with the library (seed articles + added articles)."""
        skipped: list[ArticleError] = []

        def library() -> list[Article]:  # read once the build lock is held
            articles, problems = self._library()
            skipped.extend(problems)
            return articles

        report = self.index.sync(library, progress=progress, rebuild=rebuild)
        self._load()
        return IndexResult(report, skipped)

    def _library(self) -> tuple[list[Article], list[ArticleError]]:
        # The library first: a build that held the lock lists it at once, before another
        # `qa index` waiting for the lock can add to it (reading the seeds can be slow while
        # the warm-up thread imports).
        added, unreadable = self.library.load()
        seeds, skipped = (load_articles([self.settings.seeds_dir]) if self.settings.seeds_dir.is_dir()
                          else ([], []))
        by_id = {article.article_id: article for article in seeds + added}  # added ones win
        return list(by_id.values()), skipped + unreadable

    def _load(self) -> None:
        """Answer from the index as it is now (opened on the next question)."""
        with self._answerer_lock:
            self._built = None

    @property
    def _answerer(self) -> Answerer:
        return self._ready()

    def _ready(self) -> Answerer:
        # Read before opening: a build landing while we open is seen at the next question.
        token = self.index.build_token()
        with self._answerer_lock:
            if self._built is None or token != self._built_token:  # e.g. `qa index` elsewhere
                retriever = self.index.retriever(self.embed_model,
                                                 self.settings.candidates_per_retriever)
                ranker = build_ranker(self.settings.ranker, retriever.term_weight,
                                      self.embed_model.embed)
                self._built = Answerer(self.settings, retriever, self.embed_model,
                                       self._generator, ranker)
                self._built_token = token
            return self._built

