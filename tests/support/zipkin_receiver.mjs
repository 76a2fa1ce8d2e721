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
import { readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';

import { appendSpans, exitAfter, jsonLines, listenLocal, parseArgs, requestLog, text } from './receiver_common.mjs';
import { checkBody } from './zipkin_v2.mjs';

const opts = parseArgs(process.argv.slice(2), {}, { '--check': ['check', text] });
if (!opts.out || (!opts.portFile && !opts.check)) throw new Error('--out and --port-file or --check are required');
writeFileSync(opts.out, '');

if (opts.check) {
  const [errors, spans] = checkBody(readFileSync(opts.check));
  if (errors.length) {
    console.error(`${opts.check} is not valid Zipkin v2:\n  ${errors.join('\n  ')}`);
    process.exit(1);
  }
  writeFileSync(opts.out, jsonLines(spans));
  process.exit(0);
}

const logRequest = requestLog(opts.requests);

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
    appendSpans(opts.out, spans);
    reply(202, '');
  });
});

exitAfter(opts.lifetime);
listenLocal(server, 0, opts.portFile);
