"""Long messages in `mms watch`: read and shown cut, with a note, and the whole one a key away."""

from textual.widgets import Static
from tests.helpers.tui import poll, settle

from tui.app import watch_app
from tui.highlight import mentions, mentions_in_long
from tui.reader import PREVIEW_CHARS, StoreReader
from tui.screens.watch import WatchScreen
from tui.screens.whole_message import WholeMessageScreen
from tui.widgets.chat_message import PREVIEW_LINES, ChatMessage, shown_part
from tui.widgets.long_text import Document, LongText, line_spans, wrap_lines
from tui.widgets.transcript import Transcript

PARAGRAPH = "Did your grandmother ever show you her ring? Tell me about it. " * 8 + "\n\n"
LONG = PARAGRAPH * 100 + "The very last words."  # 50,000 characters and more
THOUGHT = "Keep steering towards jewellery. " * 200


def long_game(writer, visible: str = LONG, private: str = THOUGHT) -> int:
    g = writer.game(writer.run())
    writer.say(g, 0, "user", "Hello there.")
    writer.say(g, 1, "manipulator", visible, private)
    writer.finish(g, "no_codeword")
    return g


def drawn(text: LongText) -> str:
    """The lines the widget draws now (what the screen shows of it at its next refresh)."""
    return "\n".join(text.render_line(y).text for y in range(text.scrollable_content_region.height))


def offers_whole(app) -> bool:
    """Whether the footer offers the key that opens a cut message."""
    binding = app.screen.active_bindings.get("o")
    return binding is not None and binding.binding.action == "whole_message"


def bubble(app) -> ChatMessage:
    return app.screen.query(ChatMessage)[1]


def test_the_reader_reads_a_start_and_the_length_and_the_whole_on_request(writer):
    g = long_game(writer)
    reader = StoreReader(writer.store.path)
    reader.poll()
    short, cut = reader.messages(g)
    assert (short.visible_text, short.visible_chars) == ("Hello there.", 12)
    assert cut.visible_text == LONG[:PREVIEW_CHARS] and cut.visible_chars == len(LONG)
    assert cut.private_text == THOUGHT[:PREVIEW_CHARS] and cut.private_chars == len(THOUGHT)
    whole = reader.whole_message(cut.id)
    assert (whole.visible_text, whole.private_text) == (LONG, THOUGHT)


def test_the_reader_cuts_a_long_error_or_guess_of_a_game(writer):
    g = writer.game(writer.run())
    writer.finish(g, "error", guess="ring " * 5000, error="<html>" + "x" * 1_000_000)
    reader = StoreReader(writer.store.path)
    reader.poll()
    game = reader.game(g)
    assert game.error == ("<html>" + "x" * PREVIEW_CHARS)[:PREVIEW_CHARS] + "…"
    assert game.guess == ("ring " * 5000)[:PREVIEW_CHARS] + "…"


def test_a_cut_ends_at_a_word_and_after_a_number_of_lines():
    text = "word " * 1000
    assert shown_part(text[:3001], len(text)) == text[:3000].rstrip()  # "word" whole, not "w"
    assert shown_part("abc" * 1000, 5000) == "abc" * 1000  # no space near the end: cut where it is
    lines = "\n".join(f"line {i}" for i in range(100))
    assert shown_part(lines, len(lines)).splitlines() == [f"line {i}" for i in range(PREVIEW_LINES)]
    assert shown_part("all of it", 9) == "all of it"


async def test_a_long_message_is_shown_cut_with_a_note_and_read_whole_with_o(writer):
    long_game(writer)
    app = watch_app(writer.store.path, follow=False, poll_interval=None)
    async with app.run_test(size=(120, 40)) as pilot:
        await poll(pilot)
        cut = bubble(app)
        body = str(cut.query_one(".body", Static).visual)
        assert LONG.startswith(body.removesuffix(" …")) and body.endswith(" …")
        assert len(body) <= PREVIEW_CHARS + 2 and "The very last words." not in body
        hidden = len(LONG) - len(cut.shown_text)
        note = str(cut.query_one(".cut-note", Static).visual)
        assert note.startswith(f"⋯ {hidden:,} more characters of the message and ")
        assert "of the monologue not shown · o or a click shows it all" in note
        assert offers_whole(app)

        await pilot.press("o")
        await settle(pilot)
        assert isinstance(app.screen, WholeMessageScreen)
        text = app.screen.query_one(LongText)
        assert text.document.text == f"private › {THOUGHT.strip()}\n\n{LONG}"
        assert drawn(text).startswith("private › Keep steering")
        await pilot.press("end")
        await pilot.wait_for_scheduled_animations()  # the scroll
        await settle(pilot)
        assert drawn(text).rstrip().endswith("The very last words.")
        await pilot.press("escape")
        assert isinstance(app.screen, WatchScreen)


async def test_clicking_the_note_opens_the_whole_message_without_the_hidden_monologue(writer):
    long_game(writer)
    app = watch_app(writer.store.path, follow=False, poll_interval=None)
    async with app.run_test(size=(120, 40)) as pilot:
        await poll(pilot)
        await pilot.press("m")  # the monologue hidden in the transcript stays hidden
        note = bubble(app).query_one(".cut-note")
        app.screen.query_one(Transcript).scroll_to_widget(note, animate=False, immediate=True)
        await settle(pilot)
        await pilot.click(note)
        await settle(pilot)
        assert isinstance(app.screen, WholeMessageScreen)
        assert app.screen.query_one(LongText).document.text == LONG


async def test_whole_message_key_is_offered_only_when_a_message_is_cut(writer):
    writer.won_game(writer.run())
    app = watch_app(writer.store.path, follow=False, poll_interval=None)
    async with app.run_test(size=(120, 40)) as pilot:
        await poll(pilot)
        assert not any(m.cut for m in app.screen.query(ChatMessage))
        assert not offers_whole(app)
        await pilot.press("o")
        await settle(pilot)
        assert isinstance(app.screen, WatchScreen)


def test_long_text_lines_fit_the_width_break_between_words_and_keep_every_character():
    text = "The quick brown fox jumps over the lazy dog.\n\nA" + "x" * 25 + " end\n" + "界" * 7
    wrapped = wrap_lines(text, 10)
    lines = [text[a:b] for a, b in zip(wrapped.starts, wrapped.ends)]
    assert lines == ["The quick ", "brown fox ", "jumps over ", "the lazy ", "dog.", "", "Axxxxxxxxx",
                     "xxxxxxxxxx", "xxxxxx end", "界界界界界", "界界"]  # a trailing space shows as nothing
    assert "".join(line + ("\n" if text[b:b + 1] == "\n" else "") for line, b in zip(lines, wrapped.ends)) == text


def test_a_styled_span_across_lines_is_split_between_them():
    doc = Document("abcdef ghij", parts=[(0, 2, "bold")], marks=_marks(5, 9), mark_style="reverse")
    ends = doc.marks[1::2]
    assert [(s.start, s.end, s.style) for s in line_spans(doc, ends, 0, 7)] == [(0, 2, "bold"), (5, 7, "reverse")]
    assert [(s.start, s.end, s.style) for s in line_spans(doc, ends, 7, 11)] == [(0, 2, "reverse")]


def test_a_long_text_is_judged_in_pieces_with_every_mention_found():
    text = ("a ring in every line, ring! " * 40 + "\n\n") * 100
    assert list(mentions_in_long(text, "ring", "paper")) == [(m.start, m.end) for m in mentions(text, "ring", "paper")]


def _marks(*offsets):
    from array import array

    return array("q", offsets)
