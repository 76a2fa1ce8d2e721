// A test Zipkin server: takes POST /api/v2/spans the way Zipkin does
// (202 Accepted, empty body), but first checks every body strictly against
// the Zipkin v2 model (zipkin_v2.mjs) and refuses anything else with 400
// and the list of faults, so an encoder mistake fails the test that caused
// it instead of being read leniently.
//
//   node zipkin_receiver.mjs --port-file FILE --out FILE [--requests FILE]
//        [--lifetime SECONDS]
//   node zipkin_receiver.mjs --check BODY_FILE --out FILE
//
// Listens on 127.0.0.1 only, on a port the kernel picks, written to
// --port-file once listening. --out gets one JSON line per accepted span,
// --requests one JSON line per request (method, path, content type, bytes,
// spans, status, errors). It exits by itself after --lifetime seconds
// (default 60) and on SIGTERM or SIGINT. --check validates one saved body
// instead, writes its spans to --out and exits 0, or 1 after printing the
// faults.
import { appendFileSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';

import { checkBody } from './zipkin_v2.mjs';

function parseArgs(argv) {
  const o = { lifetime: 60 };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const next = () => {
      if (i + 1 >= argv.length) throw new Error(`${a} needs a value`);
      return argv[++i];
    };
    if (a === '--port-file') o.portFile = next();
    else if (a === '--out') o.out = next();
    else if (a === '--requests') o.requests = next();
    else if (a === '--lifetime') o.lifetime = Number(next());
    else if (a === '--check') o.check = next();
    else throw new Error(`unknown argument ${a}`);
  }
  if (!o.out || (!o.portFile && !o.check)) throw new Error('--out and --port-file or --check are required');
  return o;
}

const opts = parseArgs(process.argv.slice(2));
writeFileSync(opts.out, '');

const lines = (spans) => spans.map((s) => JSON.stringify(s) + '\n').join('');

if (opts.check) {
  const [errors, spans] = checkBody(readFileSync(opts.check));
  if (errors.length) {
    console.error(`${opts.check} is not valid Zipkin v2:\n  ${errors.join('\n  ')}`);
    process.exit(1);
  }
  writeFileSync(opts.out, lines(spans));
  process.exit(0);
}

function logRequest(entry) {
  if (opts.requests) appendFileSync(opts.requests, JSON.stringify(entry) + '\n');
}

const server = createServer((req, res) => {
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => {
    const body = Buffer.concat(chunks);
    const entry = {
      method: req.method,
      path: req.url,
      contentType: req.headers['content-type'] || '',
      contentEncoding: req.headers['content-encoding'] || '',
      bytes: body.length,
      spans: 0,
      status: 0,
    };
    const reply = (status, text) => {
      entry.status = status;
      logRequest(entry);
      res.writeHead(status, { 'Content-Type': 'text/plain', 'Content-Length': Buffer.byteLength(text) });
      res.end(text);
    };
    if (req.method !== 'POST' || req.url !== '/api/v2/spans') {
      reply(404, 'not found\n');
      return;
    }
    // Zipkin also takes protobuf and gzip; the encoder under test sends neither.
    if (!/^application\/json\s*(;|$)/i.test(entry.contentType) || entry.contentEncoding) {
      reply(415, 'application/json without content coding only\n');
      return;
    }
    const [errors, spans] = checkBody(body);
    if (errors.length) {
      entry.errors = errors;
      reply(400, `not Zipkin v2:\n${errors.join('\n')}\n`);
      return;
    }
    entry.spans = spans.length;
    if (spans.length) appendFileSync(opts.out, lines(spans));
    reply(202, '');
  });
});

function stop() {
  process.exit(0);
}
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
setTimeout(stop, opts.lifetime * 1000).unref();

server.listen(0, '127.0.0.1', () => {
  const tmp = `${opts.portFile}.tmp`;
  writeFileSync(tmp, `${server.address().port}\n`);
  renameSync(tmp, opts.portFile);
});
