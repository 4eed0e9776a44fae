"""The ``qa`` command: a thin client of ``qa.Assistant``.

Errors print as one line on stderr with a non-zero exit code, never a traceback.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from qa.backends.base import BACKENDS
from qa.errors import QAError

__all__ = ["main", "build_parser"]

EXIT_ERROR = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="qa",
        description="Ask questions over news articles; every answer cites verbatim passages.",
    )
    parser.add_argument("--data-dir", type=Path, help="index and added articles (QA_DATA_DIR)")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    def backend_option(command: argparse.ArgumentParser) -> None:
        command.add_argument("--backend", choices=BACKENDS,
                             help="answer backend (QA_BACKEND; default extractive)")
        command.add_argument("--top-k", type=int, help="passages given to the answer step (QA_TOP_K)")

    ask = commands.add_parser("ask", help="answer one question")
    ask.add_argument("question", help="the question, in quotes")
    ask.add_argument("--json", action="store_true", help="print the answer as JSON")
    backend_option(ask)

    chat = commands.add_parser("chat", help="a conversation in the terminal (follow-ups allowed)")
    backend_option(chat)

    index = commands.add_parser("index", help="add or update articles (files or folders)")
    index.add_argument("paths", nargs="*", type=Path,
                       help=".txt/.md/.html files or folders; none: re-sync the library")
    index.add_argument("--rebuild", action="store_true", help="re-embed every article")

    listing = commands.add_parser("articles", help="list the indexed articles")
    listing.add_argument("--json", action="store_true", help="print as JSON")

    remove = commands.add_parser("remove", help="remove an added article by id")
    remove.add_argument("article_id")

    evaluate = commands.add_parser(
        "eval", help="run the evaluation suite (options: qa eval --help)", add_help=False)
    evaluate.add_argument("eval_args", nargs=argparse.REMAINDER, help="options of evals/run.py")

    serve = commands.add_parser("serve", help="the chat UI and the HTTP API")
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on")
    serve.add_argument("--port", type=int, default=7860, help="port to listen on")
    serve.add_argument("--auth", metavar="USER:PASS", help="require this login for the chat UI")
    backend_option(serve)
    return parser


def _assistant(args: argparse.Namespace):
    from qa.assistant import Assistant

    overrides: dict[str, Any] = {}
    if args.data_dir:
        overrides["data_dir"] = args.data_dir
    if getattr(args, "backend", None):
        overrides["backend"] = args.backend
    if getattr(args, "top_k", None):
        overrides["top_k"] = args.top_k
    return Assistant(**overrides)


def _progress_bar():
    from tqdm import tqdm

    bar: dict[str, Any] = {}

    def update(done: int, total: int) -> None:
        if "bar" not in bar:
            bar["bar"] = tqdm(total=total, unit="chunk", desc="embedding", file=sys.stderr,
                              disable=total < 100)
        bar["bar"].update(done - bar["bar"].n)
        if done >= total:
            bar["bar"].close()

    def close() -> None:
        """End the bar's line, so that an error after it starts a line of its own."""
        if "bar" in bar:
            bar["bar"].close()

    update.close = close  # type: ignore[attr-defined]
    return update


def _print_answer(answer) -> None:
    print(answer.text)
    for citation in answer.citations:
        published = citation.published.isoformat() if citation.published else "date unknown"
        print(f"\n[{citation.marker}] {citation.title} — {citation.article_id} ({published}), "
              f"chars {citation.start}–{citation.end}")
        print(f"    “{citation.quote}”")


def _cmd_ask(args: argparse.Namespace) -> int:
    from qa.answering import validate_question
    from qa.settings import load_settings

    validate_question(args.question, load_settings().max_question_chars)  # fail before loading models
    answer = _assistant(args).ask(args.question)
    if answer.warning:
        print(f"qa: warning: {answer.warning}", file=sys.stderr)
    if args.json:
        print(json.dumps(answer.to_dict(), indent=2, ensure_ascii=False))
    else:
        _print_answer(answer)
    return 0


def _cmd_chat(args: argparse.Namespace) -> int:
    from qa.answer import Answer

    assistant = _assistant(args)
    chat = assistant.chat()
    print(f"qa chat ({assistant.backend} backend). Ask about the articles; "
          "/new starts over, /quit or Ctrl-D leaves.", file=sys.stderr)
    while True:
        try:
            question = input("you> ")
        except EOFError:
            print(file=sys.stderr)
            return 0
        if question.strip() in ("/quit", "/exit"):
            return 0
        if question.strip() == "/new":
            chat.reset()
            continue
        if not question.strip():
            continue
        try:
            streamed = ""
            for item in chat.stream(question):
                if isinstance(item, Answer):
                    _print_checked(item, streamed)
                else:
                    streamed += item
                    print(item, end="", flush=True)
        except QAError as error:
            print(f"error: {error}", file=sys.stderr)


def _print_checked(answer, streamed: str) -> None:
    """After a streamed draft, the checked answer where it differs, and its sources."""
    print()
    if answer.warning:
        print(f"({answer.warning})")
        print(answer.text)
    elif answer.repaired:
        print("(checked against the sources and corrected:)")
        print(answer.text)
    elif answer.text != streamed.strip():
        # A model's draft numbers its markers by passage and writes dates as the model did;
        # the checked answer numbers them by quote and gives a year where the source dates one.
        print("(checked against the sources:)")
        print(answer.text)
    for citation in answer.citations:
        published = citation.published.isoformat() if citation.published else "date unknown"
        print(f"  [{citation.marker}] {citation.title} ({published}): “{citation.quote}”")


def _cmd_index(args: argparse.Namespace) -> int:
    from qa.assistant import Assistant

    overrides = {"data_dir": args.data_dir} if args.data_dir else {}
    assistant = Assistant(**overrides)
    progress = _progress_bar()
    try:
        if args.paths:
            result = assistant.add_articles(args.paths, progress=progress)
        else:
            result = assistant.reindex(progress=progress, rebuild=args.rebuild)
    finally:
        progress.close()
    for problem in result.skipped:
        print(f"warning: skipped {problem}", file=sys.stderr)
    report = result.report
    print(f"{len(report.added)} added, {len(report.updated)} updated, {len(report.removed)} removed, "
          f"{len(report.unchanged)} unchanged; {report.chunks_embedded} chunks embedded; "
          f"{len(assistant.articles())} articles indexed")
    return 0


def _cmd_articles(args: argparse.Namespace) -> int:
    from dataclasses import asdict

    records = _assistant(args).articles()
    if args.json:
        print(json.dumps([asdict(r) for r in records], indent=2, ensure_ascii=False))
        return 0
    for record in records:
        print(f"{record.article_id}\t{record.published or 'no date'}\t{record.chunks} chunks\t{record.title}")
    return 0


def _cmd_remove(args: argparse.Namespace) -> int:
    result = _assistant(args).remove_article(args.article_id)
    print(f"removed {', '.join(result.report.removed) or 'nothing'}")
    return 0


def _cmd_serve(args: argparse.Namespace) -> int:
    from qa.server import serve

    serve(_assistant(args), host=args.host, port=args.port, auth=args.auth)
    return 0


def _cmd_eval(args: argparse.Namespace) -> int:
    from qa.errors import SettingsError
    from qa.resources import resource_dir

    evals_dir = resource_dir("evals")
    if not (evals_dir / "run.py").is_file():
        raise SettingsError(f"the evaluation suite is not at {evals_dir}; run qa eval from a source checkout")
    sys.path.insert(0, str(evals_dir.parent))
    from evals.run import main as run_evaluation

    extra = ["--data-dir", str(args.data_dir)] if args.data_dir else []
    return run_evaluation(extra + list(args.eval_args))


_COMMANDS = {
    "ask": _cmd_ask, "chat": _cmd_chat, "index": _cmd_index, "articles": _cmd_articles,
    "remove": _cmd_remove, "serve": _cmd_serve, "eval": _cmd_eval,
}


def _show_notices() -> None:
    """qa's notices (a build waiting for another) print on stderr as ``qa: ...`` lines."""
    logger = logging.getLogger("qa")
    if not logger.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("qa: %(message)s"))
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``qa`` command; returns the exit code."""
    _show_notices()
    parser = build_parser()
    args, unknown = parser.parse_known_args(argv)
    if args.command == "eval":  # its options belong to evals/run.py
        args.eval_args = unknown + list(args.eval_args)
    elif unknown:
        parser.error(f"unrecognized arguments: {' '.join(unknown)}")
    try:
        return _COMMANDS[args.command](args)
    except QAError as error:
        print(f"qa: error: {error}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        print("qa: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED


if __name__ == "__main__":
    sys.exit(main())
