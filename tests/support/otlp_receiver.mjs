// A test OTLP/HTTP receiver: decodes what it is sent with the official
// OpenTelemetry JS protobuf code and appends one JSON line per span.
//
//   node otlp_receiver.mjs --port-file FILE --out FILE [--requests FILE]
//        [--status CODE] [--blackhole] [--lifetime SECONDS]
//
// Listens on 127.0.0.1 only, on a port the kernel picks, written to
// --port-file once listening. POST /v1/traces with application/x-protobuf
// gets 200 and an empty ExportTraceServiceResponse; --status CODE answers
// every export with CODE instead (nothing is recorded); --blackhole reads
// requests and never answers. --requests logs one JSON line per request
// (method, path, content type, bytes, spans, status). It exits by itself
// after --lifetime seconds (default 60) and on SIGTERM or SIGINT.
import { appendFileSync, renameSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { gunzipSync } from 'node:zlib';

import { decodeRequest, emptyResponse, flatten } from './otlp_decode.mjs';

function parseArgs(argv) {
  const o = { status: 200, blackhole: false, lifetime: 60 };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const next = () => {
      if (i + 1 >= argv.length) throw new Error(`${a} needs a value`);
      return argv[++i];
    };
    if (a === '--port-file') o.portFile = next();
    else if (a === '--out') o.out = next();
    else if (a === '--requests') o.requests = next();
    else if (a === '--status') o.status = Number(next());
    else if (a === '--blackhole') o.blackhole = true;
    else if (a === '--lifetime') o.lifetime = Number(next());
    else throw new Error(`unknown argument ${a}`);
  }
  if (!o.portFile || !o.out) throw new Error('--port-file and --out are required');
  return o;
}

const opts = parseArgs(process.argv.slice(2));
writeFileSync(opts.out, '');

function logRequest(entry) {
  if (opts.requests) appendFileSync(opts.requests, JSON.stringify(entry) + '\n');
}

const server = createServer((req, res) => {
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => {
    let body = Buffer.concat(chunks);
    const entry = {
      method: req.method,
      path: req.url,
      contentType: req.headers['content-type'] || '',
      contentEncoding: req.headers['content-encoding'] || '',
      userAgent: req.headers['user-agent'] || '',
      headers: req.headers,
      bytes: body.length,
      spans: 0,
      status: 0,
    };
    if (opts.blackhole) {
      entry.status = -1;
      logRequest(entry);
      return; // never answer; the socket stays open until we exit
    }
    const reply = (status, payload, type) => {
      entry.status = status;
      logRequest(entry);
      res.writeHead(status, { 'Content-Type': type, 'Content-Length': payload.length });
      res.end(payload);
    };
    if (req.method !== 'POST' || req.url !== '/v1/traces') {
      reply(404, Buffer.from('not found\n'), 'text/plain');
      return;
    }
    if (opts.status !== 200) {
      reply(opts.status, Buffer.from('test receiver refuses\n'), 'text/plain');
      return;
    }
    if (!entry.contentType.startsWith('application/x-protobuf')) {
      reply(415, Buffer.from('application/x-protobuf only\n'), 'text/plain');
      return;
    }
    let spans;
    try {
      if (entry.contentEncoding === 'gzip') body = gunzipSync(body);
      spans = flatten(decodeRequest(body));
    } catch (e) {
      entry.error = String(e);
      reply(400, Buffer.from(`cannot decode: ${e}\n`), 'text/plain');
      return;
    }
    entry.spans = spans.length;
    if (spans.length)
      appendFileSync(opts.out, spans.map((s) => JSON.stringify(s) + '\n').join(''));
    reply(200, emptyResponse(), 'application/x-protobuf');
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
