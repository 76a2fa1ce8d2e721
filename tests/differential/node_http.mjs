// Node's HTTP/1.1 client and server talking to each other on 127.0.0.1 in
// one process, one step at a time, writing a transcript of everything they
// see to stdout: the same program must print the same bytes with and
// without the library (tests/differential/node_http.sh).
//
//   node node_http.mjs PROPAGATION_LOG
//
// Steps: keep-alive (fixed, chunked, HEAD, 204, 304, chunked and sized
// uploads, 2 MB download, trailers), Expect: 100-continue, 103 Early
// Hints, pipelining on a raw socket (in one write, then byte by byte),
// HTTP/1.0, a malformed request, Upgrade to a non-HTTP echo protocol,
// CONNECT to a tunnel, concurrency, and failures (refused connection,
// response cut short, unparsable response). What varies from run to run
// (ports, Date) is replaced by fixed text. The propagation headers the
// server receives (traceparent, tracestate, baggage), which the library
// adds on purpose, are left out of the transcript and written to
// PROPAGATION_LOG as JSON lines {step, url, headers} instead.
import { createHash } from 'node:crypto';
import { appendFileSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';

const PROPAGATION = new Set(['traceparent', 'tracestate', 'baggage']);
const propLog = process.argv[2];
writeFileSync(propLog, '');

const out = [];
const say = (s) => out.push(s);
const sha = (b) => createHash('sha256').update(b).digest('hex').slice(0, 16);
let step = '';

// Deterministic bytes: a linear congruential generator.
function bytes(n, seed) {
  const b = Buffer.alloc(n);
  let x = seed >>> 0;
  for (let i = 0; i < n; i++) {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    b[i] = x >>> 24;
  }
  return b;
}

let PORT = 0;
const norm = (s) => s.split(String(PORT)).join('PORT').replace(/\b(date: )\w{3}, \d\d \w{3} \d{4} \d\d:\d\d:\d\d GMT/gi, '$1DATE');

// The request's head as the server saw it, minus the propagation headers.
function headOf(req) {
  const lines = [];
  const prop = {};
  for (let i = 0; i < req.rawHeaders.length; i += 2) {
    const k = req.rawHeaders[i];
    if (PROPAGATION.has(k.toLowerCase())) prop[k.toLowerCase()] = (prop[k.toLowerCase()] || []).concat(req.rawHeaders[i + 1]);
    else lines.push(`${k}: ${req.rawHeaders[i + 1]}`);
  }
  appendFileSync(propLog, JSON.stringify({ step, url: req.url, headers: prop }) + '\n');
  return norm(`${req.method} ${req.url} HTTP/${req.httpVersion} | ${lines.join(' | ')}`);
}

function readAll(stream) {
  return new Promise((resolve, reject) => {
    const parts = [];
    stream.on('data', (d) => parts.push(d));
    stream.on('end', () => resolve(Buffer.concat(parts)));
    stream.on('error', reject);
  });
}

let quietServer = false;
const serverSeen = [];
let connections = 0;

const server = http.createServer({ keepAliveTimeout: 30000 }, async (req, res) => {
  const head = headOf(req);
  const body = await readAll(req);
  const line = `  server: ${head} | body ${body.length} ${sha(body)}`;
  if (quietServer) serverSeen.push(line);
  else say(line);
  const u = new URL(req.url, 'http://x');
  switch (u.pathname) {
    case '/fixed':
      res.writeHead(200, { 'content-type': 'text/plain', 'content-length': 6, etag: '"v1"' });
      res.end(req.method === 'HEAD' ? undefined : 'hello\n');
      break;
    case '/chunked':
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.write('one\n');
      res.write('two\n');
      res.end('three\n');
      break;
    case '/empty':
      res.writeHead(204, { 'x-step': 'empty' });
      res.end();
      break;
    case '/notmod':
      res.writeHead(304, { etag: '"v1"' });
      res.end();
      break;
    case '/echo':
      res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': body.length });
      res.end(body);
      break;
    case '/big': {
      res.writeHead(200, { 'content-type': 'application/octet-stream' });
      const b = bytes(2 << 20, 7);
      for (let off = 0; off < b.length; off += 65536) res.write(b.subarray(off, off + 65536));
      res.end();
      break;
    }
    case '/trailers':
      res.writeHead(200, { 'content-type': 'text/plain', trailer: 'x-checksum' });
      res.write('body with trailers\n');
      res.addTrailers({ 'x-checksum': sha('body with trailers\n') });
      res.end();
      break;
    case '/hints':
      res.writeEarlyHints({ link: '</style.css>; rel=preload; as=style' });
      res.writeHead(200, { 'content-length': 3 });
      res.end('ok\n');
      break;
    case '/cut':
      res.writeHead(200, { 'content-length': 100 });
      res.write('only ten b');
      setImmediate(() => res.socket.destroy());
      break;
    case '/n':
      res.writeHead(200, { 'content-length': u.search.length });
      res.end(u.search);
      break;
    default:
      res.writeHead(404, { 'content-length': 10 });
      res.end('not found\n');
  }
});
server.on('connection', () => connections++);
server.on('checkContinue', (req, res) => {
  say(`  server: checkContinue ${req.url}`);
  res.writeContinue();
  server.emit('request', req, res);
});
server.on('upgrade', (req, socket, head) => {
  say(`  server: upgrade ${headOf(req)} | head ${head.length}`);
  socket.write('HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: echo\r\n\r\n');
  if (head.length) socket.write(head);
  socket.pipe(socket);
});
server.on('connect', (req, socket, head) => {
  say(`  server: connect ${headOf(req)}`);
  const inner = net.connect(PORT, '127.0.0.1', () => {
    socket.write('HTTP/1.1 200 Connection Established\r\n\r\n');
    if (head.length) inner.write(head);
    inner.pipe(socket);
    socket.pipe(inner);
  });
});

// request(opts, body?) -> a transcript line of the response.
function request(opts, body) {
  return new Promise((resolve) => {
    const req = http.request({ host: '127.0.0.1', port: PORT, ...opts }, async (res) => {
      const data = await readAll(res).catch((e) => Buffer.from(`(error ${e.code || e.message})`));
      const hs = [];
      for (let i = 0; i < res.rawHeaders.length; i += 2) hs.push(`${res.rawHeaders[i]}: ${res.rawHeaders[i + 1]}`);
      const tr = Object.keys(res.trailers).length ? ` | trailers ${JSON.stringify(res.trailers)}` : '';
      // Let the agent take the socket back before the next request.
      setImmediate(() => resolve(norm(`  client: ${res.statusCode} ${res.statusMessage} | ${hs.join(' | ')} | ` +
        `body ${data.length} ${sha(data)} complete=${res.complete} reused=${req.reusedSocket}${tr}`)));
    });
    req.on('information', (i) => say(`  client: informational ${i.statusCode} ${JSON.stringify(i.headers)}`));
    req.on('continue', () => {
      say('  client: continue');
      req.end(body);
    });
    req.on('error', (e) => resolve(`  client: error ${e.code}`));
    if (opts.headers && opts.headers.expect) return;
    if (Array.isArray(body)) {
      for (const b of body) req.write(b);
      req.end();
    } else req.end(body);
  });
}

// raw(chunks, bytewise?) -> what a raw TCP client reads until the server closes.
function raw(chunks, bytewise = false) {
  return new Promise((resolve) => {
    const s = net.connect(PORT, '127.0.0.1', async () => {
      for (const c of chunks) {
        const b = Buffer.from(c);
        if (!bytewise) s.write(b);
        else for (let i = 0; i < b.length; i += 7) {
          s.write(b.subarray(i, i + 7));
          await new Promise((r) => setImmediate(r));
        }
      }
    });
    const parts = [];
    s.on('data', (d) => parts.push(d));
    s.on('close', () => resolve(norm(Buffer.concat(parts).toString('latin1'))));
    s.on('error', (e) => parts.push(Buffer.from(`(error ${e.code})`)));
  });
}

async function main() {
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  PORT = server.address().port;
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });

  step = 'keep-alive';
  say('== keep-alive');
  say(await request({ agent, path: '/fixed' }));
  say(await request({ agent, path: '/chunked' }));
  say(await request({ agent, path: '/fixed', method: 'HEAD' }));
  say(await request({ agent, path: '/empty' }));
  say(await request({ agent, path: '/notmod', headers: { 'if-none-match': '"v1"' } }));
  say(await request({ agent, path: '/echo', method: 'POST' }, ['part one,', Buffer.alloc(0), bytes(70000, 1), 'end']));
  say(await request({ agent, path: '/echo', method: 'PUT', headers: { 'content-length': 1 << 20 } }, bytes(1 << 20, 2)));
  say(await request({ agent, path: '/big' }));
  say(await request({ agent, path: '/trailers', headers: { te: 'trailers' } }));
  say(await request({ agent, path: '/n?a=1&b=%20x&c=%E2%82%AC', headers: { 'user-agent': 'node-differential/1' } }));
  say(await request({ agent, path: '/missing', method: 'DELETE' }));

  step = 'expect';
  say('== expect: 100-continue');
  say(await request({ agent, path: '/echo', method: 'POST', headers: { expect: '100-continue', 'content-length': 5 } }, 'later'));

  step = 'hints';
  say('== 103 early hints');
  say(await request({ agent, path: '/hints' }));
  agent.destroy();

  step = 'pipelining';
  say('== pipelining, one write');
  const pipelined = [
    'GET /fixed HTTP/1.1\r\nHost: a\r\n\r\n' +
    'POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 11\r\n\r\nhello world' +
    'GET /chunked HTTP/1.1\r\nHost: a\r\n\r\n' +
    'GET /fixed HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n',
  ];
  say(await raw(pipelined));
  say('== pipelining, 7 bytes at a time');
  say(await raw(pipelined, true));

  step = 'http/1.0';
  say('== HTTP/1.0');
  say(await raw(['GET /chunked HTTP/1.0\r\n\r\n']));

  step = 'malformed';
  say('== malformed request');
  say(await raw(['GET /fixed HTTP/1.1\r\nHost: a\r\nBad Header Line\r\n\r\n']));

  step = 'upgrade';
  say('== upgrade');
  const payload = Buffer.concat([Buffer.from('GET /inside HTTP/1.1\r\nHost: x\r\n\r\n'), bytes(65536, 3),
    Buffer.from('HTTP/1.1 200 OK\r\n\r\n')]);
  say(await new Promise((resolve) => {
    const req = http.request({ host: '127.0.0.1', port: PORT, path: '/up', headers: { connection: 'Upgrade', upgrade: 'echo' } });
    req.on('upgrade', (res, socket, head) => {
      const got = [head];
      let n = head.length;
      socket.on('data', (d) => {
        got.push(d);
        n += d.length;
        if (n >= payload.length) socket.end();
      });
      socket.on('close', () => {
        const all = Buffer.concat(got);
        resolve(`  client: ${res.statusCode} ${res.headers.upgrade} | echoed ${all.length} equal=${all.equals(payload)}`);
      });
      socket.write(payload);
    });
    req.on('error', (e) => resolve(`  client: error ${e.code}`));
    req.end();
  }));

  step = 'connect';
  say('== CONNECT tunnel');
  say(await new Promise((resolve) => {
    const req = http.request({ host: '127.0.0.1', port: PORT, method: 'CONNECT', path: `127.0.0.1:${PORT}` });
    req.on('connect', (res, socket) => {
      const parts = [];
      socket.on('data', (d) => parts.push(d));
      socket.on('close', () => resolve(norm(`  client: ${res.statusCode} ${res.statusMessage} | tunnel read:\n` +
        Buffer.concat(parts).toString('latin1'))));
      socket.write('GET /fixed HTTP/1.1\r\nHost: inner\r\nConnection: close\r\n\r\n');
    });
    req.on('error', (e) => resolve(`  client: error ${e.code}`));
    req.end();
  }));

  step = 'concurrent';
  say('== 24 concurrent requests on 4 sockets');
  quietServer = true;
  const agent4 = new http.Agent({ keepAlive: true, maxSockets: 4 });
  const many = await Promise.all(Array.from({ length: 24 }, (_, i) =>
    request({ agent: agent4, path: `/n?i=${i}` })));
  // Which socket served which request varies; everything else may not.
  for (const l of many) say(l.replace(/ reused=\w+/, ''));
  for (const l of serverSeen.sort()) say(l);
  quietServer = false;
  agent4.destroy();

  step = 'failures';
  say('== failures');
  const closed = await new Promise((r) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const p = s.address().port;
      s.close(() => r(p));
    });
  });
  say(await new Promise((resolve) => {
    const req = http.get({ host: '127.0.0.1', port: closed, path: '/' }, () => resolve('  client: answered?'));
    req.on('error', (e) => resolve(`  client: refused: ${e.code} ${e.syscall}`));
  }));
  say(await request({ path: '/cut' }));
  const bad = net.createServer((s) => {
    s.on('data', () => s.end('HTTP/1.1 200 OK\r\nContent-Length: abc\r\n\r\nbody'));
  });
  await new Promise((r) => bad.listen(0, '127.0.0.1', r));
  say(await new Promise((resolve) => {
    const req = http.get({ host: '127.0.0.1', port: bad.address().port, path: '/' }, () => resolve('  client: answered?'));
    req.on('error', (e) => resolve(`  client: bad response: ${e.code}`));
  }));
  bad.close();

  say(`== the server accepted ${connections} connections`);
  server.close();
  process.stdout.write(out.join('\n') + '\n');
}

main().catch((e) => {
  process.stdout.write(out.join('\n') + '\n');
  console.error(e);
  process.exit(1);
});
