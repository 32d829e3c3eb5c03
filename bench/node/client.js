'use strict';
// Load-generating viewers for bench/ws_fanout.py: one process holds many WebSocket connections.
// The same client is used against Sitecast and against the baseline server.
//
// Driven by JSON lines on stdin; answers with JSON lines on stdout:
//   {"cmd":"connect","url":...,"count":N,"concurrency":C,"deflate":false,"parse":"head","timeout_s":T}
//       -> {"ev":"connected","ok":n,"failed":f,"seconds":s}   (ok = got the snapshot frame)
//   {"cmd":"reset"}  -> {"ev":"reset"}     start counting (per-connection numbering is kept)
//   {"cmd":"stats"}  -> {"ev":"stats", ...} counters since reset, per-question receipts, samples
//   {"cmd":"clock"}  -> {"ev":"clock","us":t}
//   {"cmd":"exit"}   closes every socket and exits
//
// Times are CLOCK_MONOTONIC microseconds (process.hrtime), the same clock as Python's time.monotonic_ns(),
// so the driver's send times and these receive times are directly comparable on one machine.

const readline = require('readline');
const WebSocket = require('ws');

const nowUs = () => Number(process.hrtime.bigint() / 1000n);
const conns = [];
const samples = {};
let stats;

function resetStats() {
  stats = {
    frames: 0,
    bytes: 0,
    byType: {},
    gaps: 0, // numbered frames skipped (id jumped by more than one)
    dups: 0, // numbered frames at or below the last id seen
    closed: 0, // synced connections that closed afterwards
    closeCodes: {},
    approved: new Map(), // question id -> [receipts, first receive us, last receive us]
    votes: new Map(), // frame id -> [receipts, first, last]
    captions: new Map(), // final caption line id -> [receipts, first, last] (bench/live_captions.py)
  };
}
resetStats();

function record(map, key, t) {
  const r = map.get(key);
  if (r === undefined) map.set(key, [1, t, t]);
  else {
    r[0] += 1;
    if (t > r[2]) r[2] = t;
  }
}

// The fields a viewer's bookkeeping needs all come first in both servers' frames:
// {"type":"question.approved","id":N,"data":{"id":Q,...}}. Reading them from the head of the frame costs a
// fraction of JSON.parse on a 2-core machine where every client cycle is taken from the server under test;
// frames whose head does not match (and every frame with parse = "full") go through JSON.parse.
const HEAD = /^\{"type":\s*"([^"]*)"(?:,\s*"id":\s*(\d+))?(?:,\s*"data":\s*\{"id":\s*(\d+))?/;
let fullParse = false;

function onMessage(c, data) {
  const t = nowUs();
  stats.frames += 1;
  stats.bytes += data.length;
  let type;
  let id;
  let dataId;
  const m = fullParse ? null : HEAD.exec(data.toString('latin1', 0, Math.min(data.length, 160)));
  if (m) {
    type = m[1];
    id = m[2] === undefined ? undefined : Number(m[2]);
    dataId = m[3] === undefined ? undefined : Number(m[3]);
  } else {
    let f;
    try {
      f = JSON.parse(data);
    } catch {
      stats.byType['<invalid>'] = (stats.byType['<invalid>'] || 0) + 1;
      return;
    }
    type = f.type;
    id = typeof f.id === 'number' ? f.id : undefined;
    dataId = f.data && typeof f.data.id === 'number' ? f.data.id : undefined;
  }
  stats.byType[type] = (stats.byType[type] || 0) + 1;
  if (type === 'snapshot') {
    c.last = id;
    if (!c.synced) {
      c.synced = true;
      c.onSynced();
    }
    return;
  }
  if (id !== undefined) {
    if (c.last !== null) {
      const d = id - c.last;
      if (d <= 0) stats.dups += 1;
      else if (d > 1) stats.gaps += d - 1;
    }
    if (c.last === null || id > c.last) c.last = id;
  }
  if (type === 'question.approved') {
    record(stats.approved, dataId, t);
    if (!samples.approved) samples.approved = data.toString('utf8');
  } else if (type === 'caption' && dataId !== undefined) {
    // A final line (an interim's data.id is null); a correction would re-send the same id.
    record(stats.captions, dataId, t);
  } else if (type === 'question.votes') {
    record(stats.votes, id, t);
    if (!samples.votes) samples.votes = data.toString('utf8');
  }
}

function connectAll(url, count, concurrency, deflate, timeoutS) {
  return new Promise((resolve) => {
    const t0 = Date.now();
    let started = 0;
    let settled = 0;
    let ok = 0;
    let failed = 0;
    let finished = false;
    const finish = () => {
      if (finished) return;
      finished = true;
      clearTimeout(timer);
      resolve({ ok, failed: count - ok, seconds: (Date.now() - t0) / 1000 });
    };
    const timer = setTimeout(finish, timeoutS * 1000);
    const one = () => {
      if (started >= count || finished) return;
      started += 1;
      const c = { ws: null, last: null, synced: false, settled: false };
      const settle = (success) => {
        if (c.settled) return;
        c.settled = true;
        settled += 1;
        if (success) {
          ok += 1;
          conns.push(c);
        } else {
          failed += 1;
        }
        if (settled >= count) finish();
        else one();
      };
      c.onSynced = () => settle(true);
      const ws = new WebSocket(url, { perMessageDeflate: deflate, handshakeTimeout: timeoutS * 1000 });
      c.ws = ws;
      ws.on('open', () => ws.send('{"type":"hello","last_id":null}'));
      ws.on('message', (data) => onMessage(c, data));
      ws.on('error', (err) => {
        if (!c.settled) process.stderr.write(`connect error: ${err.message}\n`);
        settle(false);
      });
      ws.on('close', (code, reason) => {
        if (!c.settled) process.stderr.write(`closed before the snapshot: ${code} ${reason}\n`);
        if (c.synced) {
          stats.closed += 1;
          stats.closeCodes[code] = (stats.closeCodes[code] || 0) + 1;
        }
        settle(false);
      });
    };
    if (count <= 0) finish();
    for (let i = 0; i < Math.min(concurrency, count); i += 1) one();
  });
}

function reply(obj) {
  process.stdout.write(JSON.stringify(obj) + '\n');
}

const rl = readline.createInterface({ input: process.stdin });
rl.on('line', async (line) => {
  let cmd;
  try {
    cmd = JSON.parse(line);
  } catch {
    return;
  }
  if (cmd.cmd === 'connect') {
    fullParse = cmd.parse === 'full';
    const r = await connectAll(cmd.url, cmd.count, cmd.concurrency || 50, !!cmd.deflate, cmd.timeout_s || 60);
    reply({ ev: 'connected', ...r });
  } else if (cmd.cmd === 'reset') {
    resetStats();
    reply({ ev: 'reset' });
  } else if (cmd.cmd === 'stats') {
    const open = conns.filter((c) => c.ws.readyState === WebSocket.OPEN).length;
    reply({
      ev: 'stats',
      open,
      frames: stats.frames,
      bytes: stats.bytes,
      by_type: stats.byType,
      gaps: stats.gaps,
      dups: stats.dups,
      closed: stats.closed,
      close_codes: stats.closeCodes,
      approved: Object.fromEntries(stats.approved),
      votes: Object.fromEntries(stats.votes),
      captions: Object.fromEntries(stats.captions),
      samples,
      rss_kib: Math.round(process.memoryUsage.rss() / 1024),
    });
  } else if (cmd.cmd === 'clock') {
    reply({ ev: 'clock', us: nowUs() });
  } else if (cmd.cmd === 'exit') {
    for (const c of conns) c.ws.terminate();
    process.exit(0);
  }
});
rl.on('close', () => process.exit(0));
