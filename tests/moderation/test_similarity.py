import pytest

from moderation.rules import RulesConfig
from moderation.similarity import find_duplicate, fingerprint, normalise, similarity

THRESHOLD = RulesConfig().duplicate_threshold

DUPLICATES = [
    ("基坑开挖引起的周边沉降怎么控制？", "请问基坑开挖导致周边沉降如何控制"),
    (
        "How do we control settlement caused by pit excavation?",
        "how to control settlement from foundation pit excavation",
    ),
    ("BIM 模型在盾构施工中怎么用", "盾构施工中BIM模型如何应用"),
    ("ＢＩＭ模型怎么用", "bim模型如何用"),
]
DIFFERENT = [
    ("盾构下穿地铁隧道时如何监测沉降", "基坑开挖引起的周边沉降怎么控制"),
    ("What is the dewatering standard?", "Who approves the fit-out plan?"),
    ("沉降怎么控制", "沉降如何监测"),
    ("防水层空鼓怎么处理", "住宅工程业主预看房指引"),
]


@pytest.mark.parametrize(("a", "b"), DUPLICATES)
def test_reworded_questions_are_duplicates(a: str, b: str) -> None:
    assert similarity(a, b) >= THRESHOLD
    assert find_duplicate(a, [(7, b)], THRESHOLD) == (7, similarity(a, b))


@pytest.mark.parametrize(("a", "b"), DIFFERENT)
def test_different_questions_are_not(a: str, b: str) -> None:
    assert similarity(a, b) < THRESHOLD
    assert find_duplicate(a, [(7, b)], THRESHOLD) is None


def test_normalise_folds_width_and_case() -> None:
    assert normalise("ＢＩＭ Model") == "bim model"


def test_fingerprint_chinese_bigrams_without_function_words() -> None:
    assert fingerprint("基坑的沉降") == {"基坑", "沉降"}
    assert fingerprint("请问桩") == {"桩"}
    assert fingerprint("the PPP model 2024") == {"ppp", "model", "2024"}
    assert fingerprint("？！。") == frozenset()


def test_works_without_any_spaces() -> None:
    assert similarity("地铁保护区内基坑降水方案审批流程", "地铁保护区基坑降水方案的审批流程是什么") >= THRESHOLD


def test_empty_fingerprints_are_not_similar() -> None:
    assert similarity("？", "？") == 0.0
    assert similarity("", "基坑") == 0.0


def test_find_duplicate_picks_best_then_lowest_id() -> None:
    existing = [(5, "基坑沉降控制"), (3, "基坑沉降控制"), (9, "基坑沉降控制措施"), (1, "盾构")]
    assert find_duplicate("基坑沉降控制", existing, 0.5) == (3, 1.0)
    assert find_duplicate("基坑沉降控制", [(9, "基坑沉降控制措施"), (2, "基坑沉降控制")], 0.5) == (2, 1.0)
    assert find_duplicate("基坑沉降控制", [], 0.5) is None
