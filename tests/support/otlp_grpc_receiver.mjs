// A test OTLP/gRPC receiver: the official gRPC implementation for Node
// (@grpc/grpc-js) serving opentelemetry.proto.collector.trace.v1.
// TraceService/Export, with messages encoded and decoded by the official
// OpenTelemetry JS protobuf code (@opentelemetry/otlp-transformer). Appends
// one JSON line per span received, as otlp_receiver.mjs does.
//
//   node otlp_grpc_receiver.mjs --port-file FILE --out FILE [--requests FILE]
//        [--lifetime SECONDS] [--script LIST] [--partial-success N]
//        [--tls-cert PEM --tls-key PEM [--client-ca PEM]]
//
// Listens on 127.0.0.1 only, on a port the kernel picks, written to
// --port-file once listening: plaintext HTTP/2 (h2c, prior knowledge) or,
// with --tls-cert/--tls-key, TLS with ALPN h2. --client-ca requires a
// client certificate signed by that CA; its subject is logged.
// grpc-js takes gzip'd messages (grpc-encoding: gzip, compressed flag 1).
//
// --script LIST: the first calls get these answers, in order, then OK.
// LIST is comma-separated, each CODE[:OPTION...], CODE a gRPC status name
// (UNAVAILABLE, RESOURCE_EXHAUSTED, ...) or number:
//   RESOURCE_EXHAUSTED:retry-delay=1.5   grpc-status-details-bin holds a
//                                        google.rpc.Status with a
//                                        google.rpc.RetryInfo (1.5 s)
//   OK:partial=3                         partial_success.rejected_spans = 3
//   UNAVAILABLE:delay=500                answer 500 ms late
// Calls are decoded whatever the answer; only the spans of an OK go to
// --out. --partial-success N: every OK carries partial_success with
// rejected_spans N and a message.
//
// --requests logs one JSON line per call: seq, arrival time (time: epoch
// ms, mono: monotonic ms), path, the HTTP/2 request headers as received
// (content-type, te, grpc-encoding, user headers...), metadata (what
// grpc-js hands the application), the first message's compressed flag and
// length (compressed, messageLength), bytes on the wire, the decoded
// message's sha256, spans, spanFlags (span ID -> Span.flags, which the JS
// decoder does not know), the answer (code, codeName, retryDelay,
// partial) and the TLS details (tls: protocol, alpn, clientSubject).
// Failed TLS handshakes are logged as {"tlsError": ...}. It exits by
// itself after --lifetime seconds (default 60) and on SIGTERM or SIGINT.
import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';

import { flatten, v1 } from './otlp_decode.mjs';
import { protoSpanFlags } from './otlp_flags.mjs';
import {
  TLS_OPTIONS, appendSpans, checkTls, exitAfter, logTlsErrors, parseArgs, parseScript, partialMessage,
  requestLog, startClock, tlsInfo, writePortFile,
} from './receiver_common.mjs';

const require = createRequire(import.meta.url);
const grpc = require('@grpc/grpc-js');
const protobuf = require('protobufjs');

const EXPORT_PATH = '/opentelemetry.proto.collector.trace.v1.TraceService/Export';
const TAG = 'x-otlp-test-receiver-stream';

function statusCode(name) {
  if (/^\d+$/.test(name)) return Number(name);
  const c = grpc.status[name];
  if (typeof c !== 'number') throw new Error(`unknown gRPC status ${name}`);
  return c;
}

function statusName(code) {
  return grpc.status[code] || String(code);
}

// google.rpc.Status, google.rpc.RetryInfo and what they use, as
// googleapis' google/rpc/status.proto and error_details.proto define them.
const rpc = protobuf.Root.fromJSON({
  nested: {
    google: {
      nested: {
        protobuf: {
          nested: {
            Any: { fields: { typeUrl: { type: 'string', id: 1 }, value: { type: 'bytes', id: 2 } } },
            Duration: { fields: { seconds: { type: 'int64', id: 1 }, nanos: { type: 'int32', id: 2 } } },
          },
        },
        rpc: {
          nested: {
            Status: {
              fields: {
                code: { type: 'int32', id: 1 },
                message: { type: 'string', id: 2 },
                details: { rule: 'repeated', type: 'google.protobuf.Any', id: 3 },
              },
            },
            RetryInfo: { fields: { retryDelay: { type: 'google.protobuf.Duration', id: 1 } } },
          },
        },
      },
    },
  },
});
const RpcStatus = rpc.lookupType('google.rpc.Status');
const RetryInfo = rpc.lookupType('google.rpc.RetryInfo');

function statusDetails(code, message, retryDelay) {
  const seconds = Math.floor(retryDelay);
  const nanos = Math.round((retryDelay - seconds) * 1e9);
  const info = RetryInfo.encode(RetryInfo.create({ retryDelay: { seconds, nanos } })).finish();
  return Buffer.from(RpcStatus.encode(RpcStatus.create({
    code, message,
    details: [{ typeUrl: 'type.googleapis.com/google.rpc.RetryInfo', value: info }],
  })).finish());
}

const SCRIPT_OPTIONS = {
  'retry-delay': ['retryDelay', Number],
  'partial': ['partial', Number],
  'delay': ['delay', Number],
};

const opts = parseArgs(process.argv.slice(2), { script: [], partial: 0 }, {
  '--script': ['script', (v) => parseScript(v, (name) => ({ code: statusCode(name) }), SCRIPT_OPTIONS)],
  '--partial-success': ['partial', Number],
  ...TLS_OPTIONS,
});
if (!opts.portFile || !opts.out) throw new Error('--port-file and --out are required');
checkTls(opts);
writeFileSync(opts.out, '');
const clock = startClock();
let seq = 0;
let streams = 0;
const pending = new Map(); // TAG value -> what was seen on the HTTP/2 stream
const logRequest = requestLog(opts.requests);

// Sees every HTTP/2 stream before grpc-js does: keeps the request headers
// as sent (grpc-js hides content-type, te, grpc-encoding from the
// application) and the gRPC framing of the first message, and tags the
// headers so the call can be matched to them.
function tap(stream, headers) {
  const id = String(++streams);
  const seen = {
    ...clock(),
    headers: { ...headers },
    bytes: 0,
    prefix: Buffer.alloc(0),
    stream,
  };
  const tls = tlsInfo(stream.session && stream.session.socket);
  if (tls) seen.tls = tls;
  pending.set(id, seen);
  headers[TAG] = id;
  stream.on('data', (chunk) => {
    seen.bytes += chunk.length;
    if (seen.prefix.length < 5) seen.prefix = Buffer.concat([seen.prefix, chunk]).subarray(0, 5);
  });
  stream.on('close', () => setTimeout(() => pending.delete(id), 5000).unref());
}

const service = {
  Export: {
    path: EXPORT_PATH,
    requestStream: false,
    responseStream: false,
    originalName: 'export',
    // Decoding failures reach the handler, which logs and refuses them.
    requestDeserialize: (buf) => {
      const raw = Buffer.from(buf);
      try {
        return { raw, msg: v1.request.decode(raw) };
      } catch (e) {
        return { raw, error: String(e) };
      }
    },
    requestSerialize: (m) => Buffer.from(v1.request.encode(m).finish()),
    responseSerialize: (m) => Buffer.from(v1.response.encode(v1.response.fromObject(m)).finish()),
    responseDeserialize: (buf) => v1.response.decode(buf),
  },
};

function exportHandler(call, callback) {
  const id = (call.metadata.get(TAG)[0] || '').toString();
  call.metadata.remove(TAG);
  const seen = pending.get(id) || { headers: {}, prefix: Buffer.alloc(0), bytes: 0 };
  const headers = { ...seen.headers };
  delete headers[TAG];
  const entry = {
    seq: ++seq,
    time: seen.time,
    mono: seen.mono,
    path: call.getPath(),
    headers,
    metadata: call.metadata.toJSON(),
    contentType: headers['content-type'] || '',
    grpcEncoding: headers['grpc-encoding'] || '',
    userAgent: headers['user-agent'] || '',
    compressed: seen.prefix.length >= 1 ? seen.prefix[0] : -1,
    messageLength: seen.prefix.length >= 5 ? seen.prefix.readUInt32BE(1) : -1,
    bytes: seen.bytes,
    spans: 0,
  };
  if (seen.tls) entry.tls = seen.tls;
  const req = call.request;
  const finish = (code, details, metadata, response) => {
    entry.code = code;
    entry.codeName = statusName(code);
    logRequest(entry);
    if (code === grpc.status.OK) callback(null, response);
    else callback({ code, details, metadata });
  };
  if (req.error) {
    entry.error = req.error;
    finish(grpc.status.INVALID_ARGUMENT, `cannot decode: ${req.error}`, new grpc.Metadata());
    return;
  }
  entry.sha256 = createHash('sha256').update(req.raw).digest('hex');
  const spans = flatten(req.msg);
  entry.spans = spans.length;
  entry.spanFlags = protoSpanFlags(req.raw);
  const step = opts.script.length ? opts.script.shift() : { code: grpc.status.OK };
  const answer = () => {
    if (step.code !== grpc.status.OK) {
      const md = new grpc.Metadata();
      const details = `scripted ${statusName(step.code)}`;
      if (step.retryDelay !== undefined) {
        entry.retryDelay = step.retryDelay;
        md.set('grpc-status-details-bin', statusDetails(step.code, details, step.retryDelay));
      }
      finish(step.code, details, md);
      return;
    }
    const rejected = step.partial !== undefined ? step.partial : opts.partial;
    appendSpans(opts.out, spans);
    let response = {};
    if (rejected) {
      entry.partial = rejected;
      response = { partialSuccess: { rejectedSpans: rejected, errorMessage: partialMessage(rejected) } };
    }
    finish(grpc.status.OK, '', null, response);
  };
  if (step.delay) setTimeout(answer, step.delay);
  else answer();
}

function credentials() {
  if (!opts.tlsCert) return grpc.ServerCredentials.createInsecure();
  return grpc.ServerCredentials.createSsl(
    opts.clientCa ? readFileSync(opts.clientCa) : null,
    [{ private_key: readFileSync(opts.tlsKey), cert_chain: readFileSync(opts.tlsCert) }],
    !!opts.clientCa,
  );
}

const server = new grpc.Server({ 'grpc.max_receive_message_length': 64 << 20 });
server.addService(service, { Export: exportHandler });

exitAfter(opts.lifetime);

server.bindAsync('127.0.0.1:0', credentials(), (err, port) => {
  if (err) {
    console.error(`cannot listen: ${err.message}`);
    process.exit(1);
  }
  // grpc-js keeps its node:http2 servers in a private map (pinned version
  // in package.json); the tap has to run before its own 'stream' handler.
  for (const h2 of server.http2Servers.keys()) {
    h2.prependListener('stream', tap);
    if (opts.tlsCert) logTlsErrors(h2, logRequest);
  }
  writePortFile(opts.portFile, port);
});
