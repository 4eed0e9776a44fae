"""qa's evaluation suite: gold questions (``questions.jsonl``) scored by small offline evaluators.

The shape follows pydantic_evals: a ``Case`` is data, a ``Dataset`` holds cases and
evaluators and runs a task (asking ``qa.Assistant``) into an ``EvaluationReport``, and every
evaluator returns named ``Score``s, each a value and a reason. Run it with
``python evals/run.py`` (see ``evals/README.md``).

Importing this package is cheap; qa and llama-index load when a run starts.
"""
