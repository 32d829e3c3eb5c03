"""The question queue over HTTP: ask, moderate, vote, rules; on SQLite and PostgreSQL."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.conftest import ADMIN, unique_slug


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


class Party:
    """One event with a moderator, an expert and viewers, each talking to the API with their own token."""

    def __init__(self, client: httpx.AsyncClient, slug: str) -> None:
        self.client = client
        self.slug = slug
        self.base = f"/api/v1/events/{slug}"

    @classmethod
    async def create(cls, client: httpx.AsyncClient, **event: Any) -> Party:
        slug = unique_slug("q")
        made = await client.post(
            "/api/v1/events",
            json={"slug": slug, "title_zh": "基坑答疑", "topics": ["基坑", "盾构"], **event},
            headers=ADMIN,
        )
        assert made.status_code == 201, made.text
        party = cls(client, slug)
        party.mod = bearer(
            (await client.post(f"{party.base}/invites", json={"role": "moderator"}, headers=ADMIN)).json()["token"]
        )
        party.expert = bearer(
            (await client.post(f"{party.base}/invites", json={"role": "expert"}, headers=ADMIN)).json()["token"]
        )
        return party

    async def viewer(self, name: str = "王工", **extra: Any) -> dict[str, str]:
        joined = await self.client.post(
            f"{self.base}/join",
            json={"name": name, "organisation": "某施工单位", "stakeholder": "construction", **extra},
        )
        assert joined.status_code == 201, joined.text
        self.client.cookies.clear()  # each viewer is another person: no cookie carries one join into the next
        return bearer(joined.json()["token"]) | {"X-Participant": str(joined.json()["participant_id"])}

    async def ask(self, who: dict[str, str], text: str, **extra: Any) -> httpx.Response:
        return await self.client.post(f"{self.base}/questions", json={"text": text, **extra}, headers=who)

    async def act(self, who: dict[str, str], qid: int, action: str, **extra: Any) -> httpx.Response:
        return await self.client.post(
            f"{self.base}/questions/{qid}/actions", json={"action": action, **extra}, headers=who
        )

    async def listing(self, who: dict[str, str] | None = None, sort: str = "popular") -> dict[str, Any]:
        response = await self.client.get(f"{self.base}/questions", params={"sort": sort}, headers=who or {})
        assert response.status_code == 200, response.text
        return dict(response.json())


@pytest.fixture
async def party(client: httpx.AsyncClient) -> Party:
    return await Party.create(client)


async def test_pre_moderation_hides_pending_until_approved(party: Party) -> None:
    viewer, other = await party.viewer(), await party.viewer("李工")
    asked = await party.ask(viewer, "基坑开挖时周边地表沉降的控制标准是多少？")
    assert asked.status_code == 201 and asked.json()["status"] == "pending"
    qid = asked.json()["id"]
    assert (await party.listing(other))["questions"] == []
    mine = (await party.listing(viewer))["mine"]
    assert [(q["id"], q["status"]) for q in mine] == [(qid, "pending")]
    staff = (await party.listing(party.mod))["questions"]
    assert (
        staff[0]["id"] == qid
        and staff[0]["asker"]["name"] == "王工"
        and staff[0]["asker"]["stakeholder"] == "construction"
    )
    assert (await party.act(party.mod, qid, "approve")).json()["status"] == "approved"
    public = (await party.listing(other))["questions"]
    assert [q["id"] for q in public] == [qid] and public[0]["asker"] == {
        "name": "王工",
        "organisation": "某施工单位",
        "stakeholder": "construction",
    }


async def test_post_moderation_publishes_at_once_but_holds_banned_words(client: httpx.AsyncClient) -> None:
    party = await Party.create(client, moderation_mode="post")
    settings = await client.patch(
        f"{party.base}/moderation", json={"banned_words": ["垃圾", "scam"]}, headers=party.mod
    )
    assert settings.status_code == 200 and settings.json()["banned_words"] == ["scam", "垃圾"]
    viewer = await party.viewer()
    clean = await party.ask(viewer, "盾构下穿既有地铁隧道时如何控制沉降？")
    assert clean.json()["status"] == "approved"
    held = await party.ask(await party.viewer("赵工"), "这个方案是垃圾吗，监测数据怎么看")
    assert held.json()["status"] == "pending" and held.json()["held_reason"] == "banned_word"
    assert [q["id"] for q in (await party.listing())["questions"]] == [clean.json()["id"]]


async def test_switching_moderation_mode_live(party: Party) -> None:
    viewer = await party.viewer()
    assert (await party.ask(viewer, "第一个问题：降水井的布置间距？")).json()["status"] == "pending"
    switched = await party.client.patch(f"{party.base}/moderation", json={"moderation_mode": "post"}, headers=party.mod)
    assert switched.json()["moderation_mode"] == "post"
    other = await party.viewer("钱工")
    assert (await party.ask(other, "邻近建筑的监测频率怎么定？")).json()["status"] == "approved"


async def test_rate_limit_per_participant_but_not_for_staff(party: Party) -> None:
    viewer = await party.viewer()
    assert (await party.ask(viewer, "第一个问题关于基坑支护")).status_code == 201
    again = await party.ask(viewer, "第二个问题关于降水方案")
    assert again.status_code == 429 and again.json()["error"]["code"] == "rate_limited"
    assert int(again.headers["retry-after"]) >= 1
    # Moderators relay questions from the phone line; they are exempt from the per-person rate.
    for text in ("主持人代问：盾构始发注意什么", "主持人代问：联络通道冻结法的风险"):
        assert (await party.ask(party.mod, text)).status_code == 201


async def test_votes_one_per_person_never_own(party: Party) -> None:
    asker, fan, fan2 = await party.viewer(), await party.viewer("粉丝"), await party.viewer("粉丝二")
    qid = (await party.ask(asker, "沉降监测点的布设间距有规范要求吗")).json()["id"]
    vote_path = f"{party.base}/questions/{qid}/vote"
    assert (await party.client.put(vote_path, headers=fan)).status_code == 404  # pending: not visible to voters
    await party.act(party.mod, qid, "approve")
    assert (await party.client.put(vote_path, headers=fan)).json() == {"id": qid, "votes": 1, "voted": True}
    assert (await party.client.put(vote_path, headers=fan)).status_code == 409
    assert (await party.client.put(vote_path, headers=fan2)).json()["votes"] == 2
    own = await party.client.put(vote_path, headers=asker)
    assert own.status_code == 409 and own.json()["error"]["code"] == "own_question"
    assert (await party.client.delete(vote_path, headers=fan)).json()["votes"] == 1
    assert (await party.client.delete(vote_path, headers=fan)).status_code == 409
    listing = await party.listing(fan2)
    assert listing["questions"][0]["votes"] == 1 and listing["voted"] == [qid]


async def test_reject_with_reason_reaches_only_the_asker(party: Party) -> None:
    asker, other = await party.viewer(), await party.viewer("路人")
    qid = (await party.ask(asker, "这个和今天主题无关的问题")).json()["id"]
    rejected = await party.act(party.mod, qid, "reject", reason="off_topic", reason_text="请在培训专场提问")
    assert rejected.json()["status"] == "rejected"
    mine = (await party.listing(asker))["mine"][0]
    assert (
        mine["status"] == "rejected"
        and mine["reason_code"] == "off_topic"
        and mine["reason_text"] == "请在培训专场提问"
    )
    assert (await party.listing(other))["questions"] == []
    reopened = await party.act(party.mod, qid, "reopen")
    assert reopened.json()["status"] == "approved"


async def test_duplicates_are_flagged_and_merged_with_votes_and_askers(party: Party) -> None:
    a, b, voter = await party.viewer("甲"), await party.viewer("乙"), await party.viewer("丙")
    first = (await party.ask(a, "基坑开挖引起的周边沉降怎么控制？")).json()
    second = (await party.ask(b, "请问基坑开挖导致周边沉降如何控制")).json()
    assert second["duplicate_of"] == first["id"]
    await party.act(party.mod, first["id"], "approve")
    await party.act(party.mod, second["id"], "approve")
    await party.client.put(f"{party.base}/questions/{second['id']}/vote", headers=voter)
    merged = await party.act(party.mod, second["id"], "merge", into=first["id"])
    assert merged.status_code == 200 and merged.json()["status"] == "merged"
    public = (await party.listing(voter))["questions"]
    assert [(q["id"], q["votes"]) for q in public] == [(first["id"], 1)]
    assert (await party.listing(b))["mine"][0]["merged_into"] == first["id"]
    staff = next(q for q in (await party.listing(party.mod))["questions"] if q["id"] == first["id"])
    assert set(staff["askers"]) == {int(a["X-Participant"]), int(b["X-Participant"])}


async def test_answering_one_at_a_time_then_answered_with_text(party: Party) -> None:
    viewer = await party.viewer()
    q1 = (await party.ask(viewer, "第一问：地铁保护区内基坑的审批流程？")).json()["id"]
    q2 = (await party.ask(await party.viewer("二"), "第二问：管线保护的监测预警值？")).json()["id"]
    for qid in (q1, q2):
        await party.act(party.mod, qid, "approve")
    assert (await party.act(party.expert, q1, "answering")).json()["status"] == "answering"
    assert (await party.act(party.expert, q2, "answering")).json()["status"] == "answering"
    statuses = {q["id"]: q["status"] for q in (await party.listing())["questions"]}
    assert statuses == {q1: "answered", q2: "answering"}
    done = await party.act(party.expert, q2, "answered", answer_text="预警值按设计值的70%设定。")
    assert done.json()["status"] == "answered"
    answered = next(q for q in (await party.listing())["questions"] if q["id"] == q2)
    assert answered["answer_text"] == "预警值按设计值的70%设定。"


async def test_roles_are_checked_for_every_action(party: Party) -> None:
    viewer = await party.viewer()
    qid = (await party.ask(viewer, "支护结构变形过大怎么处理")).json()["id"]
    assert (await party.act(viewer, qid, "approve")).status_code == 403
    assert (await party.act(party.expert, qid, "approve")).status_code == 403
    assert (
        await party.client.patch(f"{party.base}/moderation", json={"banned_words": []}, headers=party.expert)
    ).status_code == 403
    assert (await party.client.get(f"{party.base}/audit", headers=viewer)).status_code == 403
    assert (await party.act(party.mod, qid, "approve")).status_code == 200
    assert (await party.act(party.expert, qid, "answering")).status_code == 200


async def test_muted_participant_cannot_ask_or_vote(party: Party) -> None:
    troll, asker = await party.viewer("捣乱"), await party.viewer()
    qid = (await party.ask(asker, "基坑降水对邻近建筑的影响怎么评估")).json()["id"]
    await party.act(party.mod, qid, "approve")
    muted = await party.client.post(
        f"{party.base}/participants/{troll['X-Participant']}/standing",
        json={"standing": "muted", "reason": "刷屏"},
        headers=party.mod,
    )
    assert muted.json() == {"participant_id": int(troll["X-Participant"]), "standing": "muted"}
    assert (await party.ask(troll, "我还想再问一个问题")).status_code == 403
    assert (await party.client.put(f"{party.base}/questions/{qid}/vote", headers=troll)).status_code == 403


async def test_audit_log_records_who_what_when_why(party: Party) -> None:
    viewer = await party.viewer()
    qid = (await party.ask(viewer, "施工扰动的应急预案要包括哪些内容")).json()["id"]
    await party.act(party.mod, qid, "edit", text="施工扰动应急预案应包括哪些内容？", approve=True)
    await party.act(party.mod, qid, "reject", reason="answered_elsewhere", reason_text="见第3题")
    entries = (await party.client.get(f"{party.base}/audit", headers=party.mod)).json()["entries"]
    actions = [(e["action"], e["actor_role"]) for e in entries]
    assert actions == [("edit_approve", "moderator"), ("reject", "moderator")]
    assert (
        entries[0]["before"]["text"] == "施工扰动的应急预案要包括哪些内容"
        and entries[0]["after"]["status"] == "approved"
    )
    assert entries[1]["reason"] and entries[1]["at"]
    staff = (await party.listing(party.mod))["questions"][0]
    assert staff["original_text"] == "施工扰动的应急预案要包括哪些内容"


async def test_bad_question_input(party: Party) -> None:
    viewer = await party.viewer()
    assert (await party.ask(viewer, "")).status_code == 422
    assert (await party.ask(viewer, "x" * 2001)).status_code == 422
    too_long = await party.ask(viewer, "长" * 600)
    assert too_long.status_code == 422 and too_long.json()["error"]["code"] == "too_long"
    assert (await party.ask(viewer, "正常问题", topic="不存在的话题")).status_code == 422
    assert (await party.act(party.mod, 999999, "approve")).status_code == 404
    assert (
        await party.client.post(f"{party.base}/questions/abc/actions", json={"action": "approve"}, headers=party.mod)
    ).status_code == 404
    assert (await party.act(party.mod, 1, "explode")).status_code == 422
    other = await Party.create(party.client)
    foreign = (await other.ask(await other.viewer(), "另一个活动的问题内容")).json()["id"]
    assert (await party.act(party.mod, foreign, "approve")).status_code == 404
    assert (await party.client.get(f"{party.base}/questions", params={"sort": "random"})).status_code == 422


async def test_questions_close_when_the_event_ends(party: Party) -> None:
    await party.client.post(f"{party.base}/state", json={"state": "live"}, headers=ADMIN)
    await party.client.post(f"{party.base}/state", json={"state": "ended"}, headers=ADMIN)
    closed = await party.ask(await party.viewer(), "活动结束后还能提问吗")
    assert closed.status_code == 409 and closed.json()["error"]["code"] == "event_over"


async def test_questions_before_start_are_marked_pre_submitted(party: Party) -> None:
    qid = (await party.ask(await party.viewer(), "会前提问：预看房的组织方是谁？")).json()["id"]
    staff = next(q for q in (await party.listing(party.mod))["questions"] if q["id"] == qid)
    assert staff["pre_submitted"] is True


async def test_banning_removes_the_participants_open_questions_from_the_queue(party: Party) -> None:
    troll, fan = await party.viewer("广告号"), await party.viewer()
    qid = (await party.ask(troll, "加微信了解更多优惠的基坑支护方案")).json()["id"]
    await party.act(party.mod, qid, "approve")
    assert [q["id"] for q in (await party.listing(fan))["questions"]] == [qid]
    banned = await party.client.post(
        f"{party.base}/participants/{troll['X-Participant']}/standing",
        json={"standing": "banned", "reason": "广告"},
        headers=party.mod,
    )
    assert banned.status_code == 200
    assert (await party.listing(fan))["questions"] == []
    assert (await party.listing(troll))["mine"][0]["status"] == "rejected"
    actions = [
        e["action"] for e in (await party.client.get(f"{party.base}/audit", headers=party.mod)).json()["entries"]
    ]
    assert actions[-2:] == ["standing", "reject"], actions
