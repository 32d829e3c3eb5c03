import pytest

from moderation.skeleton import Skeleton, fold, skeleton
from server.chinese import to_simplified


@pytest.mark.parametrize(
    ("text", "bones"),
    [
        ("f.u.c.k", "fuck"),
        ("ｆｕｃｋ", "fuck"),
        ("fuсk", "fuck"),
        ("FUСK", "fuck"),
        ("ΗΕLLO", "hello"),
        ("f\u0301u\u0336ck", "fuck"),
        ("𝐟𝐮𝐜𝐤 ⓕⓤⓒⓚ", "fuckfuck"),
        ("違\u200b禁\u3000詞", "违禁词"),
        ("代開發票🎲\n\t", "代开发票"),
        ("ﬁne", "fine"),
    ],
)
def test_skeleton_folds_disguises(text: str, bones: str) -> None:
    assert skeleton(text, to_simplified).text == bones


def test_without_a_converter_traditional_stays() -> None:
    assert skeleton("違禁詞").text == "違禁詞"


def test_origin_and_kinds_point_back_at_the_source() -> None:
    shape = skeleton("a\u200b b.ﬁ中")
    assert shape.text == "abfi中"
    assert shape.origin == (0, 3, 5, 5, 6)
    assert shape.kinds == "wizwswo"
    assert shape.span(2, 2) == (5, 5)


def test_boundaries_look_past_invisible_characters() -> None:
    shape = skeleton("\u200bx\u200b")
    assert not shape.latin_before(1) and not shape.latin_after(1)
    shape = skeleton("a\u200bx\u200bb")
    assert shape.latin_before(2) and shape.latin_after(2)
    shape = skeleton("中x中")
    assert not shape.latin_before(1) and not shape.latin_after(1)


def test_pieces_are_the_runs_between_separators() -> None:
    shape = skeleton("-ab.c\u200bd ")
    assert shape.pieces(0, len(shape.source) - 1) == ["ab", "cd"]
    assert not shape.spaced(0, 4) and shape.spaced(0, 7)


def test_a_converter_that_changes_length_is_applied_per_character() -> None:
    def expand(text: str) -> str:
        return text.replace("X", "YY") if len(text) > 1 else text.replace("X", "y")

    shape = skeleton("aXb", expand)
    assert (shape.text, shape.origin) == ("ayb", (0, 1, 2))


def test_fold_keeps_letters_and_digits_only() -> None:
    assert fold("🎲") == "" and fold("Ａ") == "a" and fold("5") == "5" and fold("é") == "e"
    assert isinstance(skeleton(""), Skeleton) and skeleton("").text == ""
