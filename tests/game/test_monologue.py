import pytest

from game.monologue import END, START, split_monologue


@pytest.mark.parametrize(
    "raw, visible, private",
    [
        (f"{START}plan{END}Hello!", "Hello!", "plan"),
        ("Just talking.", "Just talking.", ""),
        (f"Hi {START}secret plan", "Hi", "secret plan"),  # unclosed: the rest is private
        (f"thinking about rings{END}Hello", "Hello", "thinking about rings"),  # stray end tag
        (f"A{START}x{END}B{START}y{END}C", "A B C", "x\ny"),
        ("Nice <|START INTERNAL MONO", "Nice", "<|START INTERNAL MONO"),  # cut off by the token limit
        ("Is 3 < 4? Yes.", "Is 3 < 4? Yes.", ""),
        ("<| start internal monologue |>lower-case tags<|End Internal Monologue|>ok", "ok", "lower-case tags"),
        (f"{START}{END}", "", ""),
    ],
)
def test_split(raw, visible, private):
    assert split_monologue(raw) == (visible, private)
