// The question queue as this page sees it, kept up to date from WebSocket frames, and its order
// (the same rules as moderation/ranking.py: answering, pinned, placed, open by popular/recent, answered).
const PUBLIC = new Set(["approved", "answering", "answered"]);
const GROUP = { answering: 0, pending: 1, approved: 1, answered: 2, rejected: 3, merged: 4 };

export class QuestionStore {
  constructor({ staff = false } = {}) {
    this.staff = staff;
    this.questions = new Map();
    this.mine = new Map();
    this.voted = new Set();
  }

  load(snapshot) {
    this.questions.clear();
    for (const q of snapshot.questions || []) if (this.staff || PUBLIC.has(q.status)) this.questions.set(q.id, q);
    this.loadMine(snapshot);
  }

  loadMine(data) {
    // Merge, never drop: questions are never deleted, and a list computed just before our own question
    // was committed (a resume racing an ask) must not make it vanish from "mine".
    for (const q of data.mine || []) this.mine.set(q.id, { ...this.mine.get(q.id), ...q });
    // The same race for a vote cast while the socket resumed: keep what this page knows it did.
    for (const id of data.voted || []) this.voted.add(id);
  }

  /** Apply a frame; returns true when the queue may have changed. */
  apply(frame) {
    const data = frame.data || {};
    if (frame.type === "question.votes") {
      for (const [id, count] of Object.entries(data.counts || {})) {
        const q = this.questions.get(Number(id));
        if (q) q.votes = count;
        const m = this.mine.get(Number(id));
        if (m) m.votes = count;
      }
      return true;
    }
    if (frame.type === "mine") {
      this.loadMine(data);
      return true;
    }
    if (frame.type === "notice" && data.type === "question.withdrawn" && data.question) {
      this.mine.delete(data.question.id); // the asker took it back (another tab of theirs)
      return true;
    }
    if (frame.type === "question.withdrawn") {
      this.questions.delete(data.id);
      this.mine.delete(data.id);
      return true;
    }
    if (frame.type === "notice") {
      if (data.question) this.mine.set(data.question.id, { ...this.mine.get(data.question.id), ...data.question });
      return true;
    }
    if (!frame.type.startsWith("question.") || typeof data.id !== "number") return false;
    if (data.text === undefined) {
      // A question left the public queue: viewers learn only that it is gone.
      this.questions.delete(data.id);
      return true;
    }
    if (!this.staff && !PUBLIC.has(data.status)) this.questions.delete(data.id);
    else this.questions.set(data.id, { ...this.questions.get(data.id), ...data });
    const m = this.mine.get(data.id);
    if (m) Object.assign(m, { status: data.status, text: data.text, votes: data.votes, answer_text: data.answer_text });
    return true;
  }

  all() {
    return [...this.questions.values()];
  }

  sorted(sort = "popular", filter = () => true) {
    return this.all().filter(filter).sort((a, b) => compare(key(a, sort), key(b, sort)));
  }

  answering() {
    return this.all().find((q) => q.status === "answering") || null;
  }

  count(status) {
    let n = 0;
    for (const q of this.questions.values()) if (q.status === status) n += 1;
    return n;
  }
}

function openKey(q, sort) {
  return sort === "popular" ? [-q.votes, q.created_at, q.id] : [-q.created_at, -q.id];
}

export function key(q, sort) {
  const group = GROUP[q.status];
  if (group === 1) {
    if (q.pinned) return [1, 0, q.created_at, q.id];
    if (q.position !== null && q.position !== undefined) return [1, 1, q.position, ...openKey(q, sort)];
    return [1, 2, ...openKey(q, sort)];
  }
  if (group === 2) return [2, -(q.answered_at ?? q.created_at), -q.id];
  return [group, -q.created_at, -q.id];
}

export function compare(a, b) {
  for (let i = 0; i < Math.max(a.length, b.length); i += 1) {
    if (a[i] === undefined) return -1;
    if (b[i] === undefined) return 1;
    if (a[i] !== b[i]) return a[i] < b[i] ? -1 : 1;
  }
  return 0;
}

/** Character-bigram Dice similarity (the moderation domain uses the same idea for duplicates). */
export function similarity(a, b) {
  const grams = (s) => {
    const clean = s.toLowerCase().replace(/[\s\p{P}]+/gu, "");
    const out = new Map();
    for (let i = 0; i < clean.length - 1; i += 1) {
      const g = clean.slice(i, i + 2);
      out.set(g, (out.get(g) || 0) + 1);
    }
    return out;
  };
  const x = grams(a);
  const y = grams(b);
  let common = 0;
  let total = 0;
  for (const [g, n] of x) {
    common += Math.min(n, y.get(g) || 0);
    total += n;
  }
  for (const n of y.values()) total += n;
  return total ? (2 * common) / total : 0;
}
