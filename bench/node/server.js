'use strict';
// The baseline for bench/ws_fanout.py: the smallest honest WebSocket broadcast server, built on `ws`.
//
//   node server.js PORT
//
// Clients connect on any path and send {"type":"hello",...} first; they get a snapshot frame carrying the
// current sequence number (like Sitecast's). POST /broadcast {"type": ..., "data": ...} numbers the frame
// (+1 per broadcast, one channel), serialises it ONCE and writes that same buffer to every open client.
// GET /stats reports the client count. No compression (ws's server default), no per-client queue limit.
// Listens on 127.0.0.1 only.

const http = require('http');
const { WebSocketServer, WebSocket } = require('ws');

const port = Number(process.argv[2] || 0);
let seq = 0;

const server = http.createServer((req, res) => {
  if (req.method === 'POST' && req.url === '/broadcast') {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      let msg;
      try {
        msg = JSON.parse(Buffer.concat(chunks).toString('utf8'));
      } catch {
        res.writeHead(400).end('bad json');
        return;
      }
      seq += 1;
      const frame = Buffer.from(JSON.stringify({ type: msg.type, id: seq, data: msg.data }));
      let sent = 0;
      for (const ws of wss.clients) {
        if (ws.ready && ws.readyState === WebSocket.OPEN) {
          ws.send(frame, { binary: false });
          sent += 1;
        }
      }
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ id: seq, sent }));
    });
    return;
  }
  if (req.method === 'GET' && req.url === '/stats') {
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ clients: wss.clients.size }));
    return;
  }
  res.writeHead(404).end();
});

const wss = new WebSocketServer({ server, perMessageDeflate: false });
wss.on('connection', (ws) => {
  ws.ready = false;
  ws.on('error', () => {});
  ws.on('message', (data) => {
    if (ws.ready) return;
    let m;
    try {
      m = JSON.parse(data);
    } catch {
      ws.close(1008, 'frames must be JSON');
      return;
    }
    if (!m || m.type !== 'hello') {
      ws.close(1008, 'first frame must be hello');
      return;
    }
    ws.ready = true;
    ws.send(JSON.stringify({ type: 'snapshot', id: seq, data: {} }));
  });
});

server.listen(port, '127.0.0.1', () => {
  process.stdout.write(JSON.stringify({ ev: 'listening', port: server.address().port }) + '\n');
});
process.on('SIGTERM', () => process.exit(0));
process.on('SIGINT', () => process.exit(0));
