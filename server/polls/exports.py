"""CSV exports of polls and the quiz (UTF-8 with BOM for Excel, labels in the caller's language)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from archive.exports import to_csv
from polls.model import Answer, Poll, PollKind
from polls.scoring import Score, is_correct
from server.db.models import Participant
from server.reports.present import Presenter

Row = list[object]


def _option_label(poll: Poll, i: int) -> str:
    return poll.options[i] if poll.kind != PollKind.RATING else str(i + 1)


def _answer_text(poll: Poll, answer: Answer) -> str:
    if isinstance(answer, str):
        return answer
    if isinstance(answer, int):
        return str(answer) if poll.kind == PollKind.RATING else poll.options[answer]
    return (" > " if poll.kind == PollKind.RANKING else "; ").join(poll.options[i] for i in answer)


def polls_csv(p: Presenter, polls: Sequence[tuple[Poll, Mapping[str, Any]]], groups: Sequence[str]) -> bytes:
    """One block per poll: each option (or star, or word) with its count overall and per stakeholder group."""
    rows: list[Row] = []
    for poll, results in polls:
        rows.append([p.t("polls.csv.poll"), poll.prompt, p.t("polls.csv.kind"), p.t(f"poll.kind.{poll.kind.value}")])
        rows.append([p.t("polls.csv.responses"), results["responses"]])
        by_group = results.get("by_group", {})
        present = [g for g in groups if g in by_group] + ([""] if "" in by_group else [])
        rows.append([p.t("polls.csv.option"), p.t("polls.csv.total"), *[p.group(g or None) for g in present]])
        if poll.kind == PollKind.OPEN:
            for word in results["words"]:
                rows.append([word["text"], word["count"]])
        else:
            for i, total in enumerate(results["counts"]):
                label = _option_label(poll, i)
                if poll.quiz and i in poll.correct:
                    label = f"{label} ✓"
                rows.append([label, total, *[by_group[g][i] for g in present]])
        rows.append([])
    return to_csv(rows)


def quiz_csv(
    p: Presenter,
    quiz: Sequence[Poll],
    people: Mapping[int, Participant],
    answers: Mapping[int, Mapping[int, Answer]],
    scores: Mapping[int, Score],
) -> bytes:
    """One row per participant who answered: their answer to each question (✓ when right), score, pass."""
    head: Row = [
        p.t("report.csv.name"),
        p.t("report.csv.organisation"),
        p.t("report.group"),
        *[q.prompt for q in quiz],
        p.t("quiz.csv.score"),
        p.t("quiz.csv.passed"),
    ]
    rows: list[Row] = [head]
    for pid in sorted(answers, key=lambda i: (-scores[i].percent, i)):
        person = people.get(pid)
        registered = person is not None and not person.anonymous and bool(person.name)
        cells: Row = [
            person.name if registered and person else p.t("quiz.csv.anonymous"),
            person.organisation if registered and person else "",
            p.group(person.stakeholder if person else None),
        ]
        for q in quiz:
            given = answers[pid].get(q.id)
            cells.append(None if given is None else _answer_text(q, given) + (" ✓" if is_correct(q, given) else ""))
        s = scores[pid]
        cells += [s.percent, p.t("quiz.csv.yes") if s.passed else p.t("quiz.csv.no")]
        rows.append(cells)
    return to_csv(rows)
