"""Random command sequences by random actors keep the queue's invariants after every step."""

import copy
from collections.abc import Callable
from dataclasses import replace

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from moderation.errors import Refused
from moderation.events import EVENT_TYPES, Outcome
from moderation.model import Actor, ModerationMode, RejectReason, Role, Standing, is_public
from moderation.model import QuestionStatus as S
from moderation.queue import Queue
from moderation.ranking import Sort, public_queue, ranked
from moderation.rules import RulesConfig

ROLES = {
    1: Role.VIEWER,
    2: Role.VIEWER,
    3: Role.VIEWER,
    4: Role.VIEWER,
    10: Role.EXPERT,
    11: Role.MODERATOR,
    12: Role.ADMIN,
}
TEXTS = [
    "基坑开挖引起的周边沉降怎么控制？",
    "请问基坑开挖导致周边沉降如何控制",
    "盾构下穿地铁隧道时如何监测沉降",
    "How do we control settlement caused by pit excavation?",
    "What is the dewatering standard?",
    "see example.com for details",
    "这是广告 spam",
    "防水层空鼓怎么处理",
]
RULES = RulesConfig(banned_words=frozenset({"spam"}), rate_limit_seconds=5.0)

# Moderators are drawn more often than their share (and first, where Hypothesis starts) so that
# moderation actions mostly get past the role check.
actors = st.sampled_from([11, 1, 12, 2, 10, 3, 11, 4]).map(lambda pid: Actor(pid, ROLES[pid]))
# An index into the existing ids plus one missing id, so most commands reach a real question.
qids = st.integers(0, 50)


class QueueMachine(RuleBasedStateMachine):
    queue: Queue
    now: float
    originals: dict[int, str]

    @initialize(mode=st.sampled_from(ModerationMode))
    def start(self, mode: ModerationMode) -> None:
        # Start with a few public questions (submitted in POST mode) so votes and merges have targets.
        self.queue = Queue(event_id=7, mode=ModerationMode.POST, rules=RULES)
        self.now = 0.0
        self.originals = {}
        for pid, text in zip((1, 2, 3, 10), TEXTS[2:6], strict=True):
            self.queue, _ = self.queue.submit(Actor(pid, ROLES[pid]), text, self.now)
        self.queue = replace(self.queue, mode=mode)

    def pick(self, index: int) -> int:
        ids = sorted(self.queue.questions)
        ids.append(ids[-1] + 1)
        return ids[index % len(ids)]

    def apply(self, command: Callable[[], tuple[Queue, Outcome]], *, audited: Actor | None) -> Refused | None:
        before = self.queue
        frozen = copy.deepcopy(before)
        try:
            after, outcome = command()
        except Refused as refused:
            assert self.queue is before and before == frozen
            return refused
        for q in outcome.questions:
            assert after.questions[q.id] == q
        assert all(e.type in EVENT_TYPES for e in outcome.events)
        if audited is None:
            assert after.audit == before.audit
        else:
            assert len(after.audit) == len(before.audit) + 1
            assert after.audit[-1].actor_id == audited.participant_id and after.audit[-1].at == self.now
        self.queue = after
        return None

    @rule(asker=actors, text=st.sampled_from(TEXTS), dt=st.sampled_from([0.0, 2.0, 10.0]))
    def submit(self, asker: Actor, text: str, dt: float) -> None:
        self.now += dt
        standing = self.queue.as_actor(asker).standing
        refused = self.apply(lambda: self.queue.submit(asker, text, self.now), audited=None)
        if standing is not Standing.ACTIVE:
            assert refused is not None and refused.code == standing.value

    @rule(qid=qids, actor=actors)
    def approve(self, qid: int, actor: Actor) -> None:
        self.apply(lambda: self.queue.approve(self.pick(qid), actor, self.now), audited=actor)

    @rule(
        qid=qids,
        actor=actors,
        text=st.sampled_from(["edited", "  ", "完全改写的问题"]),
        approve=st.booleans(),
    )
    def edit(self, qid: int, actor: Actor, text: str, approve: bool) -> None:
        self.apply(lambda: self.queue.edit(self.pick(qid), actor, text, self.now, approve), audited=actor)

    @rule(qid=qids, actor=actors, reason=st.sampled_from(RejectReason))
    def reject(self, qid: int, actor: Actor, reason: RejectReason) -> None:
        self.apply(lambda: self.queue.reject(self.pick(qid), actor, reason, "why", self.now), audited=actor)

    @rule(src=qids, dst=qids, actor=actors)
    def merge(self, src: int, dst: int, actor: Actor) -> None:
        self.apply(lambda: self.queue.merge(self.pick(src), self.pick(dst), actor, self.now), audited=actor)

    # Merging is the richest command (askers, votes, chains), so it also gets a rule that always passes the
    # role check.
    @rule(src=qids, dst=qids)
    def moderator_merge(self, src: int, dst: int) -> None:
        moderator = Actor(11, Role.MODERATOR)
        self.apply(lambda: self.queue.merge(self.pick(src), self.pick(dst), moderator, self.now), audited=moderator)

    @rule(qid=qids, actor=actors, pinned=st.booleans())
    def pin(self, qid: int, actor: Actor, pinned: bool) -> None:
        self.apply(lambda: self.queue.pin(self.pick(qid), actor, self.now, pinned), audited=actor)

    @rule(qid=qids, actor=actors, position=st.none() | st.sampled_from([0.0, 1.5, 3.0]))
    def reorder(self, qid: int, actor: Actor, position: float | None) -> None:
        self.apply(lambda: self.queue.reorder(self.pick(qid), actor, self.now, position), audited=actor)

    @rule(qid=qids, actor=actors)
    def start_answering(self, qid: int, actor: Actor) -> None:
        self.apply(lambda: self.queue.start_answering(self.pick(qid), actor, self.now), audited=actor)

    @rule(qid=qids, actor=actors, text=st.none() | st.just("answer"))
    def mark_answered(self, qid: int, actor: Actor, text: str | None) -> None:
        self.apply(lambda: self.queue.mark_answered(self.pick(qid), actor, self.now, text), audited=actor)

    @rule(qid=qids, actor=actors)
    def reopen(self, qid: int, actor: Actor) -> None:
        self.apply(lambda: self.queue.reopen(self.pick(qid), actor, self.now), audited=actor)

    @rule(qid=qids, voter=actors)
    def vote(self, qid: int, voter: Actor) -> None:
        standing = self.queue.as_actor(voter).standing
        refused = self.apply(lambda: self.queue.vote(self.pick(qid), voter, self.now), audited=None)
        if standing is not Standing.ACTIVE:
            assert refused is not None
        if refused is None:
            assert voter.participant_id not in self.queue.get(self.pick(qid)).askers

    @rule(qid=qids, voter=actors)
    def unvote(self, qid: int, voter: Actor) -> None:
        self.apply(lambda: self.queue.unvote(self.pick(qid), voter, self.now), audited=None)

    @rule(who=actors, actor=actors, standing=st.sampled_from(Standing))
    def set_standing(self, who: Actor, actor: Actor, standing: Standing) -> None:
        self.apply(lambda: self.queue.set_standing(who, actor, standing, None, self.now), audited=actor)

    @rule(actor=actors, mode=st.sampled_from(ModerationMode))
    def set_mode(self, actor: Actor, mode: ModerationMode) -> None:
        pending = {q.id for q in self.queue.questions.values() if q.status is S.PENDING}
        self.apply(lambda: self.queue.set_mode(actor, mode, self.now), audited=actor)
        assert pending <= {q.id for q in self.queue.questions.values() if q.status is S.PENDING}

    @invariant()
    def one_answering_and_one_pinned(self) -> None:
        questions = self.queue.questions.values()
        assert sum(q.status is S.ANSWERING for q in questions) <= 1
        pinned = [q for q in questions if q.pinned]
        assert len(pinned) <= 1 and all(q.status is S.APPROVED for q in pinned)

    @invariant()
    def merged_point_at_live_questions(self) -> None:
        for q in self.queue.questions.values():
            if q.status is S.MERGED:
                assert q.merged_into is not None
                target = self.queue.questions[q.merged_into]
                assert target.status is not S.MERGED and target.event_id == q.event_id
            else:
                assert q.merged_into is None

    @invariant()
    def votes_match_voters(self) -> None:
        for q in self.queue.questions.values():
            voters = self.queue.voters.get(q.id, frozenset())
            assert not voters & q.askers
            assert q.votes == len(voters - q.askers)

    @invariant()
    def rankings(self) -> None:
        questions = list(self.queue.questions.values())
        for sort in Sort:
            order = ranked(questions, sort)
            assert sorted(q.id for q in order) == sorted(q.id for q in questions)
            assert ranked(reversed(questions), sort) == order
            assert all(is_public(q.status) for q in public_queue(questions, sort))

    @invariant()
    def original_text_never_changes(self) -> None:
        for q in self.queue.questions.values():
            if q.id in self.originals:
                assert q.original_text == self.originals[q.id]
            elif q.original_text is not None:
                self.originals[q.id] = q.original_text


QueueMachine.TestCase.settings = settings(max_examples=100, stateful_step_count=40, deadline=None)
test_queue_invariants = QueueMachine.TestCase
