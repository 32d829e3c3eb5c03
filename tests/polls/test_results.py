"""Results by option, star, rank and stakeholder group; the word cloud; quiz correctness counts."""

from polls.lifecycle import draft
from polls.model import PollKind
from polls.results import NO_GROUP, Ballot, by_group_share, share, tally
from polls.words import cloud


def test_single_choice_counts_by_group() -> None:
    p = draft(1, PollKind.SINGLE, "q", ["a", "b", "c"])
    r = tally(p, [Ballot(0, "owner"), Ballot(0, "construction"), Ballot(2, "owner"), Ballot(1)])
    assert r.responses == 4 and r.counts == (2, 1, 1) and r.correct is None
    assert r.by_group == {"owner": (1, 0, 1), "construction": (1, 0, 0), NO_GROUP: (0, 1, 0)}
    assert share(r) == (0.5, 0.25, 0.25)
    assert by_group_share(r)["owner"] == (0.5, 0.0, 0.5)
    d = r.as_dict()
    assert d["counts"] == [2, 1, 1] and list(d["by_group"]) == ["", "construction", "owner"] and d["mean"] is None


def test_nobody_answered() -> None:
    r = tally(draft(1, PollKind.RATING, "q"), [])
    assert r.responses == 0 and r.counts == (0,) * 5 and r.mean is None and share(r) == (0.0,) * 5


def test_multiple_choice_and_quiz_correctness() -> None:
    p = draft(2, PollKind.MULTIPLE, "q", ["渗漏", "开裂", "BIM"], quiz=True, correct=[0, 1])
    r = tally(p, [Ballot((0, 1)), Ballot((0,)), Ballot((0, 1, 2))])
    assert r.counts == (3, 2, 1) and r.correct == 1


def test_rating_distribution_and_mean() -> None:
    r = tally(draft(3, PollKind.RATING, "q"), [Ballot(5), Ballot(4), Ballot(4), Ballot(1)])
    assert r.counts == (1, 0, 0, 2, 1) and r.mean == 3.5 and r.as_dict()["mean"] == 3.5


def test_ranking_borda_points_and_mean_place() -> None:
    p = draft(4, PollKind.RANKING, "q", ["a", "b", "c"])
    r = tally(p, [Ballot((0, 1, 2), "owner"), Ballot((1, 0, 2), "owner")])
    assert r.counts == (3, 3, 0) and r.mean_rank == (1.5, 1.5, 3.0)
    assert by_group_share(r)["owner"] == (1.0, 1.0, 0.0)


def test_open_text_words_count_once_per_answer_and_skip_noise() -> None:
    p = draft(5, PollKind.OPEN, "q")
    ballots = [
        Ballot("a", tokens=("基坑", "的", "基坑", "监测", "！", " ")),
        Ballot("b", tokens=("基坑", "BIM", "x", "7")),
        Ballot("c", tokens=("bim", "水")),
    ]
    r = tally(p, ballots)
    assert [(w.text, w.count) for w in r.words] == [("bim", 2), ("基坑", 2), ("水", 1), ("监测", 1)]
    assert r.counts == () and r.as_dict()["words"][1] == {"text": "基坑", "count": 2}


def test_the_cloud_is_bounded() -> None:
    assert len(cloud([[f"词{i}" for i in range(100)]], size=10)) == 10
