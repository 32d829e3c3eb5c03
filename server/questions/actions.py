"""What both command paths share: refusals as HTTP errors, the caller as the domain's actor, and the
moderator actions that need no row but their own question."""

from __future__ import annotations

from moderation import commands
from moderation.errors import Refused
from moderation.events import Outcome
from moderation.model import Actor, RejectReason, Role, Standing
from moderation.model import Question as DomainQuestion
from server.auth import Principal
from server.errors import ApiError
from server.schemas_questions import ActionRequest

_STATUS_FOR_REFUSAL = {
    "forbidden": 403,
    "muted": 403,
    "banned": 403,
    "rate_limited": 429,
    "too_long": 422,
    "too_short": 422,
    "banned_word": 422,
    "link": 422,
    "not_found": 404,
}


def refused(exc: Refused) -> ApiError:
    status = _STATUS_FOR_REFUSAL.get(exc.code, 409)
    message = exc.detail or exc.code.replace("_", " ")
    return ApiError(status, exc.code, message, retry_after=exc.retry_after)


def actor_for(caller: Principal) -> Actor:
    p = caller.participant
    if p is None:
        return Actor(participant_id=0, role=Role.ADMIN)
    return Actor(participant_id=p.id, role=Role(p.role), standing=Standing(p.standing))


def simple_action(q: DomainQuestion, actor: Actor, body: ActionRequest, now: float) -> Outcome:
    """approve, edit, reject, reopen, reorder, answered: the actions that change only `q`."""
    match body.action:
        case "approve":
            return commands.approve(q, actor, now)
        case "edit":
            if not body.text:
                raise ApiError(422, "invalid", "edit needs the new text")
            return commands.edit(q, actor, body.text, now, approve=body.approve)
        case "reject":
            reason = RejectReason(body.reason or "other")
            return commands.reject(q, actor, reason, body.reason_text, now)
        case "reopen":
            return commands.reopen(q, actor, now)
        case "reorder":
            return commands.reorder(q, actor, now, body.position)
        case "answered":
            return commands.mark_answered(q, actor, now, body.answer_text)
    raise ValueError(f"{body.action} is not a simple action")
