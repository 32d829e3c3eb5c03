"""Search across archived events: transcript lines, answered questions and typed answers.

Chinese has no spaces, so words cannot be split on them: each run of CJK characters is indexed as
its character bigrams (沉降 is a term of 基坑开挖引起的沉降), Latin letters and digits as whole words.
A query becomes the same terms; the database finds the documents holding all of them through an
ordinary index (equality on `search_terms.term`, the same plan on SQLite and PostgreSQL), and the
final check — the query's runs and words really occur, in that order of characters — is done here
in Python on normalised text. That keeps results identical on both engines: no collation, LIKE or
full-text dialect decides what matches. Text is normalised as NFKC, case-folded and converted to
Simplified Chinese, so 沉降 finds 沉降 written 沈降 in Traditional, and ＢＩＭ finds BIM.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, insert, intersect, select
from sqlalchemy.ext.asyncio import AsyncSession

from server.db.models import Event, SearchDoc, SearchTerm

_CJK = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
_TOKEN = re.compile(rf"[{_CJK}]+|[a-z0-9]+")
MAX_TERM_CHARS = 64
MAX_QUERY_CHARS = 200
# A query matching more documents than this is shown the newest this many (a one-word query in a
# large archive); the total says so.
MAX_CANDIDATES = 5000
SEARCHABLE_STATES = ("ended", "archived")


class DocKind:
    TRANSCRIPT = "transcript"
    QUESTION = "question"
    ANSWER = "answer"


@functools.cache
def _t2s() -> Any:
    import opencc

    return opencc.OpenCC("t2s")


def fold(text: str) -> str:
    return str(_t2s().convert(unicodedata.normalize("NFKC", text).casefold()))


def _is_cjk(token: str) -> bool:
    return not token[0].isascii()


def terms(folded: str) -> set[str]:
    """Index terms of normalised text: CJK bigrams (a lone character as itself) and words."""
    out: set[str] = set()
    for token in _TOKEN.findall(folded):
        if _is_cjk(token) and len(token) > 1:
            out.update(token[i : i + 2] for i in range(len(token) - 1))
        else:
            out.add(token[:MAX_TERM_CHARS])
    return out


@dataclass(frozen=True)
class Query:
    text: str
    pieces: tuple[str, ...]  # CJK runs and words, normalised

    @property
    def terms(self) -> set[str]:
        """Terms every matching document is indexed under (a single character is no term by itself)."""
        out: set[str] = set()
        for piece in self.pieces:
            if _is_cjk(piece):
                if len(piece) > 1:
                    out.update(piece[i : i + 2] for i in range(len(piece) - 1))
            else:
                out.add(piece[:MAX_TERM_CHARS])
        return out

    @property
    def lone_characters(self) -> list[str]:
        return [p for p in self.pieces if _is_cjk(p) and len(p) == 1]

    def matches(self, folded: str) -> bool:
        for piece in self.pieces:
            if _is_cjk(piece):
                if piece not in folded:
                    return False
            elif not re.search(rf"(?<![a-z0-9]){re.escape(piece)}(?![a-z0-9])", folded):
                return False
        return True


def parse(text: str) -> Query:
    text = text.strip()[:MAX_QUERY_CHARS]
    return Query(text, tuple(dict.fromkeys(_TOKEN.findall(fold(text)))))


@dataclass(frozen=True)
class Doc:
    kind: str
    ref_id: int | None
    seconds: float | None
    text: str


async def index_event(
    session: AsyncSession, event_id: int, docs: Iterable[Doc], kinds: Iterable[str] | None = None
) -> int:
    """Replace the event's documents (of `kinds`, or all) in the caller's transaction: idempotent."""
    old = select(SearchDoc.id).where(SearchDoc.event_id == event_id)
    if kinds is not None:
        old = old.where(SearchDoc.kind.in_(list(kinds)))
    await _delete(session, old)
    return await add_docs(session, event_id, docs)


async def replace_doc(session: AsyncSession, event_id: int, doc: Doc) -> None:
    """One document (a corrected caption line) replaced by its new text."""
    old = select(SearchDoc.id).where(
        SearchDoc.event_id == event_id, SearchDoc.kind == doc.kind, SearchDoc.ref_id == doc.ref_id
    )
    await _delete(session, old)
    await add_docs(session, event_id, [doc])


async def _delete(session: AsyncSession, ids: Any) -> None:
    ids = ids.scalar_subquery() if hasattr(ids, "scalar_subquery") else ids
    await session.execute(delete(SearchTerm).where(SearchTerm.doc_id.in_(ids)))
    await session.execute(delete(SearchDoc).where(SearchDoc.id.in_(ids)))


async def add_docs(session: AsyncSession, event_id: int, docs: Iterable[Doc]) -> int:
    """Index more documents of an event (the live captions add each final line as it is stored)."""
    rows = [
        SearchDoc(event_id=event_id, kind=d.kind, ref_id=d.ref_id, seconds=d.seconds, text=d.text, folded=fold(d.text))
        for d in docs
        if d.text.strip()
    ]
    if not rows:
        return 0
    session.add_all(rows)
    await session.flush()
    postings = [{"term": term, "doc_id": row.id} for row in rows for term in sorted(terms(row.folded))]
    if postings:
        # Core executemany on the table: the ORM's bulk path spent ~4× as long building the same rows.
        await session.execute(insert(SearchTerm.__table__), postings)
    return len(rows)


@dataclass(frozen=True)
class Hit:
    doc: SearchDoc
    event: Event


async def search(session: AsyncSession, query: Query) -> tuple[list[Hit], bool]:
    """Every document matching `query`, newest event first, then in recording order.

    The second value says whether the candidates were capped (MAX_CANDIDATES)."""
    if not query.pieces:
        return [], False
    selects = [select(SearchTerm.doc_id).where(SearchTerm.term == term) for term in sorted(query.terms)]
    for char in query.lone_characters:
        # Rare (a one-character query): no term holds it alone, so scan. The pattern is a CJK
        # character, which LIKE treats literally on both engines.
        selects.append(select(SearchDoc.id).where(SearchDoc.folded.like(f"%{char}%")))
    candidates = (selects[0] if len(selects) == 1 else intersect(*selects)).subquery()
    newest_first = select(candidates.c[0]).order_by(candidates.c[0].desc()).limit(MAX_CANDIDATES + 1)
    ids = [row[0] for row in await session.execute(newest_first)]
    capped = len(ids) > MAX_CANDIDATES
    rows = await session.execute(
        select(SearchDoc, Event)
        .join(Event, Event.id == SearchDoc.event_id)
        .where(SearchDoc.id.in_(ids[:MAX_CANDIDATES]))
        # Live events index their caption lines as they are spoken; they are found once the event ends.
        .where(Event.state.in_(SEARCHABLE_STATES))
    )
    hits = [Hit(doc, event) for doc, event in rows if query.matches(doc.folded)]
    hits.sort(key=_order)
    return hits, capped


_KIND_ORDER = {DocKind.QUESTION: 0, DocKind.ANSWER: 1, DocKind.TRANSCRIPT: 2}


def _order(hit: Hit) -> tuple[Any, ...]:
    ended = hit.event.ended_at.timestamp() if hit.event.ended_at else 0.0
    seconds = hit.doc.seconds if hit.doc.seconds is not None else -1.0
    return (-ended, hit.event.id, seconds, _KIND_ORDER.get(hit.doc.kind, 9), hit.doc.id)


def highlight_spans(text: str, query: Query) -> Sequence[tuple[int, int]]:
    """Character ranges of `text` matching the query's pieces, for the client to mark (text nodes)."""
    folded = fold(text)
    if len(folded) != len(text):
        return []  # normalisation changed lengths (rare ligatures): no highlight rather than a wrong one
    spans: list[tuple[int, int]] = []
    for piece in query.pieces:
        start = folded.find(piece)
        while start >= 0:
            spans.append((start, start + len(piece)))
            start = folded.find(piece, start + len(piece))
    return sorted(spans)
