"""Shared values for the moderation tests."""

from typing import Any

from moderation.model import Actor, Question, QuestionStatus, Role, Standing

VIEWER = Actor(1, Role.VIEWER)
OTHER_VIEWER = Actor(2, Role.VIEWER)
MUTED = Actor(3, Role.VIEWER, Standing.MUTED)
BANNED = Actor(4, Role.VIEWER, Standing.BANNED)
EXPERT = Actor(10, Role.EXPERT)
MODERATOR = Actor(11, Role.MODERATOR)
ADMIN = Actor(12, Role.ADMIN)


def question(qid: int = 1, status: QuestionStatus = QuestionStatus.APPROVED, **kw: Any) -> Question:
    fields: dict[str, Any] = {
        "event_id": 7,
        "asker_id": 1,
        "text": f"question {qid}",
        "created_at": float(qid),
    }
    fields.update(kw)
    return Question(id=qid, status=status, **fields)
