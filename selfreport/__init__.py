"""Self-report interviews of trained manipulators: questions, scoring, statistics, reports.

- `battery`: the questions (``data/questions.toml``), candidate words, variants, `Item`/`Context`;
- `evals/`: one module per evaluation, all behind the `Evaluation` protocol;
- `scoring`: asking a question — option probabilities where the backend allows, else sampling;
  guessers for open answers;
- `sandbox`: running model-written code locked down (`sandbox_child` is its other side);
- `interview`: running the battery on models and a baseline; `records`: the database rows;
- `stats`, `summary`: bootstrap intervals and per-metric comparisons; `report`: Markdown + PNG;
- `cli`: ``mms interview`` and ``mms report``.
"""
