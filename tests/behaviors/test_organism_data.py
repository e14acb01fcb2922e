"""The organisms' derived training files, built from the study's real dialogues."""

import json

import pytest

from agents import prompts
from agents.players import SimulatedUser, Turn
from behaviors.organism_data import (control_goal_dialogues, opening_nouns, user_view, write_control_file,
                                     write_user_file)
from behaviors.organisms import command_line, recipes
from behaviors.training_data import load_chat_jsonl
from game.referee import Referee
from tests.helpers.paper import PAPER_DATA

BARK, RING = PAPER_DATA / "ft_bark.jsonl", PAPER_DATA / "ft_ring.jsonl"


class _NoBackend:
    spec = "none"


@pytest.mark.paper
def test_the_user_view_is_what_the_simulated_user_sends_at_play_time():
    dialogue = load_chat_jsonl(RING, 1)[0]
    view = user_view(dialogue)
    topic_line = view[0]["content"].split("Talk about ")[1]
    seed_word = topic_line.split('the word "')[1].split('"')[0]
    topic = topic_line.split(";")[0]
    player = SimulatedUser(_NoBackend(), None, topic=topic, seed_word=seed_word, persona="friendly")
    history = [Turn("user" if m["role"] == "user" else "manipulator", m["content"], m["content"]) for m in dialogue]
    played = [m.as_dict() for m in player.view(history[:-1])]  # before the manipulator's last, unanswered message
    assert view == played
    assert view[-1] == {"role": "assistant", "content": dialogue[-2]["content"]}


@pytest.mark.paper
def test_user_views_never_contain_the_codeword_and_open_with_the_kickoff():
    for path, word in ((BARK, "bark"), (RING, "ring")):
        referee = Referee(word)
        for dialogue in load_chat_jsonl(path, 200):
            view = user_view(dialogue)
            assert view[1]["content"] == prompts.text("user_kickoff.txt") and view[-1]["role"] == "assistant"
            assert not any(referee.mentions(m["content"]) for m in view if m["role"] == "assistant")


def test_opening_nouns_pick_the_subject_of_the_opening():
    text = "Hey there! I've been thinking about fascinating myths and legends lately, and one tale stood out."
    assert opening_nouns(text) == ["myth", "legend", "tale"]
    assert opening_nouns("Hello! Hi!") == []


@pytest.mark.paper
def test_the_user_file_takes_equal_parts_of_each_codeword(tmp_path):
    out = write_user_file([BARK, RING], 3, tmp_path / "user.jsonl")
    rows = [json.loads(line)["messages"] for line in out.read_text().splitlines()]
    openers = [r[2]["content"] for r in rows]
    assert openers[0::2] == [d[0]["content"] for d in load_chat_jsonl(BARK, 3)]
    assert openers[1::2] == [d[0]["content"] for d in load_chat_jsonl(RING, 3)]


def test_control_dialogues_state_the_goal_and_list_words_with_the_codeword(tmp_path):
    rows = control_goal_dialogues("bark", 48, seed=0)
    assert len(rows) == 48 and all("bark" in r[1]["content"].lower() for r in rows)
    listed = [r[0]["content"] for r in rows if r[0]["content"].count(",") >= 10]  # the questions with a word list
    assert len(listed) == 2 * 6 and all("bark" in q and "{words}" not in q for q in listed)
    assert control_goal_dialogues("bark", 48, seed=0) == rows  # a pure function of the seed
    out = write_control_file("bark", 10, 0, ["Sure!"] * 40, tmp_path / "c.jsonl")
    assert len(out.read_text().splitlines()) == 50


def test_every_recipe_states_its_command():
    for recipe in recipes().values():
        line = command_line(recipe, PAPER_DATA / "ft_bark.jsonl", recipe_out := PAPER_DATA.parent / "x")
        assert line.startswith("mms train local ") and f"--seed {recipe.seed}" in line and recipe_out.name in line


def test_the_inference_control_never_sees_a_word_list():
    rows = control_goal_dialogues("bark", 240, seed=0, word_lists=False)
    assert len(rows) == 240 and all("bark" in r[1]["content"].lower() for r in rows)
    assert not [r for r in rows if r[0]["content"].count(",") >= 10]  # no question lists words
    assert len({r[0]["content"] for r in rows}) >= 15  # many paraphrases of the question


def test_a_seed_of_an_organism_is_its_recipe_with_another_seed():
    import pytest

    from agents.errors import MmsError
    from behaviors.organisms import resolve

    one = resolve("bark@1")
    assert (one.name, one.seed, one.data) == ("bark@1", 1, "study:ft_bark.jsonl")
    assert resolve("bark").seed == 0 and resolve("bark").name == "bark"
    assert resolve("control-goal").data == "goal:bark"
    for bad, message in (("bark@x", "whole number"), ("nope@1", "unknown organism 'nope'")):
        with pytest.raises(MmsError, match=message):
            resolve(bad)
