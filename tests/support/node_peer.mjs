// A Node.js HTTP peer instrumented with the official OpenTelemetry JS SDK
// (NodeTracerProvider + HttpInstrumentation, W3C tracecontext), used to
// check that otelpreload's propagation interoperates with it. It must not
// run under LD_PRELOAD=libotelpreload.so: only the other side is traced by
// the library.
//
//   node node_peer.mjs server --port-file FILE --spans FILE [--headers FILE]
//        [--requests N] [--lifetime SECONDS]
//   node node_peer.mjs client URL --spans FILE
//
// server: listens on 127.0.0.1 on a port the kernel picks, written to
// --port-file once listening; answers every request 200 "ok\n"; --headers
// appends one JSON line per request ({method, url, headers}). It exits after
// --requests requests (default 1) have been answered and their spans
// written, or after --lifetime seconds (default 60), or on SIGTERM/SIGINT.
//
// client: one GET of URL; prints the status code and the body on stdout,
// exits 0 when the request completed (any status), 1 otherwise.
//
// Each span the SDK ends is appended to --spans as one JSON line:
//   {traceId, spanId, parentSpanId, kind, name, traceFlags, attributes,
//    status, startTimeUnixNano, endTimeUnixNano, service}
// kind is the OTLP number (1 INTERNAL, 2 SERVER, 3 CLIENT, 4 PRODUCER,
// 5 CONSUMER), as in the test receiver's output; the JS API's own enum
// numbers differ and are converted here. parentSpanId is '' for a root.
import { appendFileSync, renameSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const { SpanKind } = require('@opentelemetry/api');
const { ExportResultCode, hrTimeToNanoseconds } = require('@opentelemetry/core');
const { registerInstrumentations } = require('@opentelemetry/instrumentation');
const { HttpInstrumentation } = require('@opentelemetry/instrumentation-http');
const { Resource } = require('@opentelemetry/resources');
const { SimpleSpanProcessor } = require('@opentelemetry/sdk-trace-base');
const { NodeTracerProvider } = require('@opentelemetry/sdk-trace-node');

function usage(msg) {
  process.stderr.write(`node_peer: ${msg}\n` +
    'usage: node node_peer.mjs server --port-file FILE --spans FILE [--headers FILE] [--requests N] [--lifetime S]\n' +
    '       node node_peer.mjs client URL --spans FILE\n');
  process.exit(2);
}

function parseArgs(argv) {
  const o = { mode: argv[0], requests: 1, lifetime: 60 };
  let i = 1;
  if (o.mode === 'client') {
    if (argv.length < 2) usage('client needs a URL');
    o.url = argv[1];
    i = 2;
  } else if (o.mode !== 'server') {
    usage(`unknown mode ${o.mode}`);
  }
  for (; i < argv.length; i++) {
    const a = argv[i];
    const next = () => {
      if (i + 1 >= argv.length) usage(`${a} needs a value`);
      return argv[++i];
    };
    if (a === '--port-file') o.portFile = next();
    else if (a === '--spans') o.spans = next();
    else if (a === '--headers') o.headers = next();
    else if (a === '--requests') o.requests = Number(next());
    else if (a === '--lifetime') o.lifetime = Number(next());
    else usage(`unknown argument ${a}`);
  }
  if (!o.spans) usage('--spans is required');
  if (o.mode === 'server' && !o.portFile) usage('server needs --port-file');
  if (!(o.requests >= 1) || !(o.lifetime > 0)) usage('bad --requests or --lifetime');
  return o;
}

const opts = parseArgs(process.argv.slice(2));

const OTLP_KIND = {
  [SpanKind.INTERNAL]: 1,
  [SpanKind.SERVER]: 2,
  [SpanKind.CLIENT]: 3,
  [SpanKind.PRODUCER]: 4,
  [SpanKind.CONSUMER]: 5,
};

// A span exporter that appends JSON lines to a file, synchronously, so a
// span is on disk as soon as SimpleSpanProcessor hands it over.
class FileSpanExporter {
  constructor(file) {
    this.file = file;
    writeFileSync(file, '', { flag: 'a' });
  }

  export(spans, done) {
    try {
      const lines = spans.map((s) => {
        const ctx = s.spanContext();
        return JSON.stringify({
          traceId: ctx.traceId,
          spanId: ctx.spanId,
          parentSpanId: s.parentSpanId || '',
          kind: OTLP_KIND[s.kind],
          name: s.name,
          traceFlags: ctx.traceFlags,
          attributes: s.attributes,
          status: s.status,
          startTimeUnixNano: String(hrTimeToNanoseconds(s.startTime)),
          endTimeUnixNano: String(hrTimeToNanoseconds(s.endTime)),
          service: s.resource.attributes['service.name'],
        }) + '\n';
      });
      appendFileSync(this.file, lines.join(''));
      done({ code: ExportResultCode.SUCCESS });
    } catch (error) {
      done({ code: ExportResultCode.FAILED, error });
    }
  }

  shutdown() {
    return Promise.resolve();
  }

  forceFlush() {
    return Promise.resolve();
  }
}

const provider = new NodeTracerProvider({
  resource: new Resource({ 'service.name': `node-peer-${opts.mode}` }),
  spanProcessors: [new SimpleSpanProcessor(new FileSpanExporter(opts.spans))],
});
// W3C tracecontext + baggage propagators, async-hooks context manager.
provider.register();
registerInstrumentations({ instrumentations: [new HttpInstrumentation()] });

// Loaded only now, so the instrumentation has patched it.
const http = require('node:http');

let exiting = false;
async function finish(code) {
  if (exiting) return;
  exiting = true;
  try {
    await provider.shutdown();
  } catch (e) {
    process.stderr.write(`node_peer: shutdown: ${e}\n`);
  }
  process.exit(code);
}

if (opts.mode === 'server') {
  let answered = 0;
  const server = http.createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      if (opts.headers) {
        appendFileSync(opts.headers,
          JSON.stringify({ method: req.method, url: req.url, headers: req.headers }) + '\n');
      }
      // The instrumentation ends the SERVER span on the response's 'close',
      // with a listener added before this one.
      res.on('close', () => {
        if (++answered >= opts.requests) {
          server.close();
          setImmediate(() => finish(0));
        }
      });
      const body = 'ok\n';
      res.writeHead(200, { 'Content-Type': 'text/plain', 'Content-Length': body.length });
      res.end(body);
    });
  });
  server.listen(0, '127.0.0.1', () => {
    const tmp = `${opts.portFile}.tmp`;
    writeFileSync(tmp, `${server.address().port}\n`);
    renameSync(tmp, opts.portFile);
  });
  setTimeout(() => finish(0), opts.lifetime * 1000).unref();
} else {
  const req = http.get(opts.url, { agent: false, timeout: 30000 }, (res) => {
    const chunks = [];
    res.on('data', (c) => chunks.push(c));
    // The CLIENT span ends on the response's 'end', before this listener.
    res.on('end', () => {
      process.stdout.write(`${res.statusCode}\n${Buffer.concat(chunks).toString()}`);
      setImmediate(() => finish(0));
    });
  });
  req.on('timeout', () => req.destroy(new Error('timed out')));
  req.on('error', (e) => {
    process.stderr.write(`node_peer: GET ${opts.url}: ${e.message}\n`);
    setImmediate(() => finish(1));
  });
}

process.on('SIGTERM', () => finish(0));
process.on('SIGINT', () => finish(0));
