// A test OTLP/HTTP receiver: decodes what it is sent with the official
// OpenTelemetry JS protobuf code and appends one JSON line per span.
//
//   node otlp_receiver.mjs --port-file FILE --out FILE [--requests FILE]
//        [--status CODE] [--blackhole] [--lifetime SECONDS]
//        [--script LIST] [--partial-success N]
//        [--tls-cert PEM --tls-key PEM [--client-ca PEM]]
//        [--port N] [--listen-delay MS]
//
// Listens on 127.0.0.1 only, on a port the kernel picks (or --port), written
// to --port-file once listening. POST /v1/traces with application/x-protobuf
// (http/protobuf) or application/json (OTLP/JSON, http/json), gzip'd or not
// (Content-Encoding: gzip), gets 200 and an empty ExportTraceServiceResponse
// in the request's encoding; the spans of every 200 go to --out.
//
// --status CODE answers every export with CODE at once (nothing decoded or
// recorded); --blackhole reads requests and never answers.
//
// --script LIST: the first requests get these answers, in order, then the
// default. LIST is comma-separated, each CODE[:OPTION...] or "drop":
//   503:retry-after=1        Retry-After: 1 (seconds)
//   503:retry-after-date=2   Retry-After as an HTTP-date 2 s from now
//   200:partial=3            partial_success.rejected_spans = 3
//   200:delay=500            answer 500 ms late
//   drop                     close the connection without an answer
// Requests are decoded whatever the answer; only the spans of a 200 are
// written to --out.
// --partial-success N: every 200 carries partial_success with
// rejected_spans N and a message.
//
// --tls-cert/--tls-key: HTTPS (HTTP/2 by ALPN, or HTTP/1.1). --client-ca:
// a client certificate signed by that CA is required (handshakes without
// one fail); its subject is logged.
// --port N: listen on N. --listen-delay MS: start listening only after MS.
//
// --requests logs one JSON line per request: seq, arrival time (time: epoch
// ms, mono: monotonic ms), method, path, httpVersion, content type and
// encoding, every header, bytes on the wire, the decoded body's sha256,
// encoding (protobuf/json), jsonViolations, spanFlags (span ID -> Span.flags,
// which the JS decoder does not know), spans, the answer (status,
// retryAfter, partial) and the TLS details (tls: protocol, alpn,
// clientSubject). It exits by itself after --lifetime seconds (default
// 60) and on SIGTERM or SIGINT.
import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { createSecureServer } from 'node:http2';
import { gunzipSync } from 'node:zlib';

import { decodeRequest, emptyResponse, flatten, v1 } from './otlp_decode.mjs';
import { jsonSpanFlags, protoSpanFlags } from './otlp_flags.mjs';
import { decodeJsonRequest, jsonResponse, jsonViolations } from './otlp_json_decode.mjs';
import {
  TLS_OPTIONS, appendSpans, checkTls, exitAfter, listenLocal, logTlsErrors, parseArgs, parseScript,
  partialMessage, requestLog, startClock, text, tlsInfo,
} from './receiver_common.mjs';

// A --script step's head: an HTTP status, or "drop".
function scriptStatus(code, tok) {
  if (tok === 'drop') return { drop: true };
  const step = { status: Number(code) };
  if (!Number.isInteger(step.status) || step.status < 100 || step.status > 599)
    throw new Error(`--script: bad status in ${tok}`);
  return step;
}

const SCRIPT_OPTIONS = {
  'retry-after': ['retryAfter', text],
  'retry-after-date': ['retryAfterDate', Number],
  'partial': ['partial', Number],
  'delay': ['delay', Number],
};

const opts = parseArgs(process.argv.slice(2), {
  status: 200, blackhole: false, script: [], partial: 0, port: 0, listenDelay: 0,
}, {
  '--status': ['status', Number],
  '--blackhole': ['blackhole'],
  '--script': ['script', (v) => parseScript(v, scriptStatus, SCRIPT_OPTIONS)],
  '--partial-success': ['partial', Number],
  ...TLS_OPTIONS,
  '--port': ['port', Number],
  '--listen-delay': ['listenDelay', Number],
});
if (!opts.portFile || !opts.out) throw new Error('--port-file and --out are required');
checkTls(opts);
writeFileSync(opts.out, '');
const clock = startClock();
let seq = 0;
const logRequest = requestLog(opts.requests);

function handler(req, res) {
  const arrived = clock();
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => {
    let body = Buffer.concat(chunks);
    const entry = {
      seq: ++seq,
      ...arrived,
      method: req.method,
      path: req.url,
      httpVersion: req.httpVersion,
      contentType: req.headers['content-type'] || '',
      contentEncoding: req.headers['content-encoding'] || '',
      userAgent: req.headers['user-agent'] || '',
      headers: req.headers,
      bytes: body.length,
      spans: 0,
      status: 0,
    };
    const tls = tlsInfo(req.socket);
    if (tls) entry.tls = tls;
    if (opts.blackhole) {
      entry.status = -1;
      logRequest(entry);
      return; // never answer; the socket stays open until we exit
    }
    const reply = (status, payload, type, extra = {}) => {
      entry.status = status;
      logRequest(entry);
      res.writeHead(status, { 'Content-Type': type, 'Content-Length': payload.length, ...extra });
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
    const json = entry.contentType.startsWith('application/json');
    if (!json && !entry.contentType.startsWith('application/x-protobuf')) {
      reply(415, Buffer.from('application/x-protobuf or application/json only\n'), 'text/plain');
      return;
    }
    entry.encoding = json ? 'json' : 'protobuf';
    const step = opts.script.length ? opts.script.shift() : { status: 200 };
    let spans;
    try {
      if (entry.contentEncoding === 'gzip') body = gunzipSync(body);
      else if (entry.contentEncoding && entry.contentEncoding !== 'identity')
        throw new Error(`unknown Content-Encoding ${entry.contentEncoding}`);
      entry.sha256 = createHash('sha256').update(body).digest('hex');
      if (json) {
        entry.jsonViolations = jsonViolations(body);
        spans = flatten(decodeJsonRequest(body));
        entry.spanFlags = jsonSpanFlags(body);
      } else {
        spans = flatten(decodeRequest(body));
        entry.spanFlags = protoSpanFlags(body);
      }
    } catch (e) {
      entry.error = String(e);
      reply(400, Buffer.from(`cannot decode: ${e}\n`), 'text/plain');
      return;
    }
    entry.spans = spans.length;
    const answer = () => {
      if (step.drop) {
        entry.status = -2;
        logRequest(entry);
        req.socket.destroy();
        return;
      }
      if (step.status !== 200) {
        const extra = {};
        if (step.retryAfter !== undefined) extra['Retry-After'] = step.retryAfter;
        if (step.retryAfterDate !== undefined)
          extra['Retry-After'] = new Date(Date.now() + step.retryAfterDate * 1000).toUTCString();
        if (extra['Retry-After']) entry.retryAfter = extra['Retry-After'];
        reply(step.status, Buffer.from(`scripted ${step.status}\n`), 'text/plain', extra);
        return;
      }
      const rejected = step.partial !== undefined ? step.partial : opts.partial;
      if (rejected) entry.partial = rejected;
      appendSpans(opts.out, spans);
      if (json) {
        reply(200, rejected ? jsonResponse(rejected, partialMessage(rejected)) : jsonResponse(0),
          'application/json');
      } else {
        const payload = rejected
          ? Buffer.from(v1.response.encode(v1.response.create({
            partialSuccess: { rejectedSpans: rejected, errorMessage: partialMessage(rejected) },
          })).finish())
          : emptyResponse();
        reply(200, payload, 'application/x-protobuf');
      }
    };
    if (step.delay) setTimeout(answer, step.delay);
    else answer();
  });
}

const server = opts.tlsCert
  ? createSecureServer({
    allowHTTP1: true,
    cert: readFileSync(opts.tlsCert),
    key: readFileSync(opts.tlsKey),
    ...(opts.clientCa ? { ca: readFileSync(opts.clientCa), requestCert: true, rejectUnauthorized: true } : {}),
  }, handler)
  : createServer(handler);

if (opts.tlsCert) logTlsErrors(server, logRequest);
exitAfter(opts.lifetime);
setTimeout(() => listenLocal(server, opts.port, opts.portFile), opts.listenDelay);
