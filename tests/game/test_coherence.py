"""Coherence figures: repeated messages and distinct-2, per seat, exactly on known games."""

import json

from typer.testing import CliRunner

from game.cli import app
from game.coherence import coherence, distinct_2, repeats


def test_a_message_repeats_when_its_words_equal_an_earlier_one_of_the_same_game():
    game = [("user", "Hi there!"), ("manipulator", "This is your message."), ("user", "hi, THERE"),
            ("manipulator", "This is your message"), ("manipulator", "Something new.")]
    assert repeats(game) == [False, False, True, True, False]
    assert repeats([("user", "Hi there!")]) == [False]  # another game's messages never count


def test_distinct_2_counts_unique_bigrams_within_messages():
    assert distinct_2(["a b c", "a b"]) == 2 / 3  # (a,b) twice, (b,c) once; no bigram across messages
    assert distinct_2(["🌟🌟🌟", "x"]) is None
    assert distinct_2(["one two three four"]) == 1.0


def test_coherence_is_per_seat():
    games = [[("user", "Hello"), ("manipulator", "Ask me a thing"), ("user", "Hello"),
              ("manipulator", "Ask me a thing")],
             [("user", "Dogs are great"), ("manipulator", "What do dogs say")]]
    result = coherence(games)
    assert (result["user_messages"], result["manipulator_messages"]) == (3, 3)
    assert result["user_repeat_rate"] == round(1 / 3, 4) and result["manipulator_repeat_rate"] == round(1 / 3, 4)
    assert result["manipulator_distinct2"] == round(6 / 9, 4)


def test_play_reports_coherence(tmp_path, script):
    manipulator = script("What sound does a dog make?", "What sound does a dog make?")
    user = script("Hi!", "Woof, I guess.", "<|START GUESS|>cat<|END GUESS|>")
    result = CliRunner().invoke(app, ["play", "--codeword", "bark", "--manipulator", manipulator, "--user", user,
                                      "--messages-per-player", "2", "--db", str(tmp_path / "g.db"), "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["manipulator_messages"] == 2 and data["manipulator_repeat_rate"] == 0.5
    assert data["user_messages"] == 2 and data["user_repeat_rate"] == 0.0
