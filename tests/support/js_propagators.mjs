// The official OpenTelemetry JS propagators as an interop peer for
// otelpreload's propagation formats: W3CTraceContextPropagator and
// W3CBaggagePropagator (@opentelemetry/core), B3Propagator in single- and
// multi-header modes (@opentelemetry/propagator-b3), JaegerPropagator
// (@opentelemetry/propagator-jaeger). No SDK, no instrumentation: the
// propagators are called directly on plain node:http requests. Never run
// it under LD_PRELOAD=libotelpreload.so.
//
//   node js_propagators.mjs server --port-file FILE --out FILE [--lifetime S]
//   node js_propagators.mjs client URL --format F [--unsampled] [--debug]
//        [--bits 64|128] [--baggage K=V,...] [--tracestate TS]
//
// server: listens on 127.0.0.1 (port written to --port-file), answers every
// request 200 "ok\n" and appends one JSON line per request to --out:
//   {method, url, raw: [[name, value], ...] (as received, in order),
//    headers (node's lower-cased object),
//    tracecontext, b3, jaeger: what each propagator extracts, or null:
//      {traceId, spanId, traceFlags, isRemote, debug, traceState}
//      (debug: the B3 debug flag, read back by re-injecting the extracted
//      context with B3 single; traceState: tracecontext only, serialized),
//    baggage: {w3c, jaeger}: entries the W3C baggage propagator and the
//      Jaeger propagator (uberctx-*) extract, {key: {value, metadata}} or null}
//
// client: makes a fresh random context with the SDK's RandomIdGenerator
// (sampled unless --unsampled; --bits 64 gives a trace id whose upper 64
// bits are zero, sent as 16 hex digits), injects it with the propagator of
// format F (tracecontext, baggage, b3, b3multi, jaeger) into the headers of
// one GET of URL, and prints one JSON line:
//   {format, traceId (32 hex, padded), spanId, sampled, debug, headers, status, body}
// --debug sets the B3 debug flag (b3, b3multi): the context is the one the
// JS B3 propagator extracts from "b3: T-S-d" or "x-b3-flags: 1". --baggage adds W3C baggage
// entries (format baggage, injected with tracecontext) or Jaeger uberctx-*
// entries (format jaeger). --tracestate adds a W3C tracestate (tracecontext).
// Before sending, the JS propagator extracts the headers it is about to send
// and must find the same context; the client fails otherwise.
import { appendFileSync, renameSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const api = require('@opentelemetry/api');
const { W3CTraceContextPropagator, W3CBaggagePropagator, TraceState } = require('@opentelemetry/core');
const { B3Propagator, B3InjectEncoding } = require('@opentelemetry/propagator-b3');
const { JaegerPropagator } = require('@opentelemetry/propagator-jaeger');
const { RandomIdGenerator } = require('@opentelemetry/sdk-trace-base');

const { ROOT_CONTEXT, defaultTextMapGetter, defaultTextMapSetter, propagation, trace } = api;

const P = {
  tracecontext: new W3CTraceContextPropagator(),
  baggage: new W3CBaggagePropagator(),
  b3: new B3Propagator({ injectEncoding: B3InjectEncoding.SINGLE_HEADER }),
  b3multi: new B3Propagator({ injectEncoding: B3InjectEncoding.MULTI_HEADER }),
  jaeger: new JaegerPropagator(),
};

function usage(msg) {
  process.stderr.write(`js_propagators: ${msg}\n` +
    'usage: node js_propagators.mjs server --port-file FILE --out FILE [--lifetime S]\n' +
    '       node js_propagators.mjs client URL --format F [--unsampled] [--debug] [--bits 64|128]\n' +
    '            [--baggage K=V,...] [--tracestate TS]\n');
  process.exit(2);
}

function parseArgs(argv) {
  const o = { mode: argv[0], lifetime: 100, bits: 128, sampled: true, debug: false };
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
    else if (a === '--out') o.out = next();
    else if (a === '--lifetime') o.lifetime = Number(next());
    else if (a === '--format') o.format = next();
    else if (a === '--unsampled') o.sampled = false;
    else if (a === '--debug') o.debug = true;
    else if (a === '--bits') o.bits = Number(next());
    else if (a === '--baggage') o.baggage = next();
    else if (a === '--tracestate') o.tracestate = next();
    else usage(`unknown argument ${a}`);
  }
  if (o.mode === 'server' && (!o.portFile || !o.out)) usage('server needs --port-file and --out');
  if (o.mode === 'client' && !P[o.format]) usage(`unknown --format ${o.format}`);
  if (o.bits !== 64 && o.bits !== 128) usage('--bits is 64 or 128');
  if (!(o.lifetime > 0)) usage('bad --lifetime');
  return o;
}

// What a propagator found in `ctx`, as plain JSON.
function describe(ctx, withState) {
  const sc = trace.getSpanContext(ctx);
  if (!sc) return null;
  const out = {
    traceId: sc.traceId,
    spanId: sc.spanId,
    traceFlags: sc.traceFlags,
    isRemote: !!sc.isRemote,
    valid: api.isSpanContextValid(sc),
  };
  // The B3 debug flag lives under a context key the package does not
  // export, holding "d" (from b3 single) or "1" (from x-b3-flags): B3
  // single injection writes "d" for the first, multi "x-b3-flags: 1" for
  // the second.
  const single = {};
  const multi = {};
  P.b3.inject(ctx, single, defaultTextMapSetter);
  P.b3multi.inject(ctx, multi, defaultTextMapSetter);
  out.debug = (typeof single.b3 === 'string' && single.b3.endsWith('-d')) || multi['x-b3-flags'] === '1';
  if (withState) out.traceState = sc.traceState ? sc.traceState.serialize() : null;
  return out;
}

function entries(ctx) {
  const bag = propagation.getBaggage(ctx);
  if (!bag) return null;
  const out = {};
  for (const [k, e] of bag.getAllEntries()) {
    out[k] = { value: e.value, metadata: e.metadata ? e.metadata.toString() : null };
  }
  return out;
}

function extractAll(headers) {
  const ex = (p) => p.extract(ROOT_CONTEXT, headers, defaultTextMapGetter);
  // B3Propagator extracts both encodings whatever its inject mode.
  const jaeger = ex(P.jaeger);
  return {
    tracecontext: describe(ex(P.tracecontext), true),
    b3: describe(ex(P.b3), false),
    jaeger: describe(jaeger, false),
    baggage: { w3c: entries(ex(P.baggage)), jaeger: entries(jaeger) },
  };
}

const opts = parseArgs(process.argv.slice(2));

if (opts.mode === 'server') {
  writeFileSync(opts.out, '', { flag: 'a' });
  const server = http.createServer({ maxHeaderSize: 65536 }, (req, res) => {
    req.resume();
    req.on('end', () => {
      const raw = [];
      for (let k = 0; k < req.rawHeaders.length; k += 2) raw.push([req.rawHeaders[k], req.rawHeaders[k + 1]]);
      appendFileSync(opts.out, JSON.stringify({
        method: req.method, url: req.url, raw, headers: req.headers, ...extractAll(req.headers),
      }) + '\n');
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
  setTimeout(() => process.exit(0), opts.lifetime * 1000).unref();
  process.on('SIGTERM', () => process.exit(0));
  process.on('SIGINT', () => process.exit(0));
} else {
  client(opts);
}

function fail(msg) {
  process.stderr.write(`js_propagators: ${msg}\n`);
  process.exit(1);
}

function client(o) {
  const gen = new RandomIdGenerator();
  let traceId = gen.generateTraceId();
  if (o.bits === 64) traceId = '0'.repeat(16) + gen.generateSpanId();
  const spanId = gen.generateSpanId();
  const flags = o.sampled ? api.TraceFlags.SAMPLED : api.TraceFlags.NONE;
  let ctx;
  if (o.debug) {
    if (o.format !== 'b3' && o.format !== 'b3multi') fail('--debug is for b3 and b3multi');
    // The only public way to a debug context: what the JS B3 propagator
    // extracts from a debug header of the same encoding.
    const seed = o.format === 'b3'
      ? { b3: `${traceId}-${spanId}-d` }
      : { 'x-b3-traceid': traceId, 'x-b3-spanid': spanId, 'x-b3-flags': '1' };
    ctx = P.b3.extract(ROOT_CONTEXT, seed, defaultTextMapGetter);
  } else {
    const sc = { traceId, spanId, traceFlags: flags, isRemote: false };
    if (o.tracestate) sc.traceState = new TraceState(o.tracestate);
    ctx = trace.setSpanContext(ROOT_CONTEXT, sc);
  }
  if (o.baggage) {
    const bag = {};
    for (const kv of o.baggage.split(',')) {
      const at = kv.indexOf('=');
      bag[kv.slice(0, at)] = { value: kv.slice(at + 1) };
    }
    ctx = propagation.setBaggage(ctx, propagation.createBaggage(bag));
  }
  const headers = {};
  const prop = P[o.format];
  prop.inject(ctx, headers, defaultTextMapSetter);
  if (o.format === 'baggage') P.tracecontext.inject(ctx, headers, defaultTextMapSetter);
  if (o.bits === 64) {
    // A 64-bit tracer (Zipkin, Jaeger clients) sends 16 hex digits. The JS
    // propagators always write 32; cut the zero upper half off.
    const short = traceId.slice(16);
    let cut = 0;
    for (const k of Object.keys(headers)) {
      if (k === 'b3' || k === 'uber-trace-id') {
        headers[k] = headers[k].replace(traceId, short);
        cut++;
      } else if (k === 'x-b3-traceid') {
        headers[k] = short;
        cut++;
      }
    }
    if (cut !== 1) fail(`--bits 64 is for b3, b3multi and jaeger (headers ${JSON.stringify(headers)})`);
  }
  if (!Object.keys(headers).length) fail(`the ${o.format} propagator injected nothing`);
  // The JS side must read back what it sends (64-bit ids padded).
  const back = extractAll(headers);
  const mine = o.format === 'b3multi' ? back.b3 : o.format === 'baggage' ? back.tracecontext : back[o.format];
  if (!mine || mine.traceId !== traceId || mine.spanId !== spanId ||
      mine.traceFlags !== (o.debug ? 1 : flags) || mine.debug !== o.debug) {
    fail(`the JS ${o.format} propagator does not read back its own headers: ${JSON.stringify(headers)} -> ${JSON.stringify(mine)}`);
  }
  const req = http.get(o.url, { agent: false, headers, timeout: 30000 }, (res) => {
    const chunks = [];
    res.on('data', (c) => chunks.push(c));
    res.on('end', () => {
      process.stdout.write(JSON.stringify({
        format: o.format, traceId, spanId, sampled: o.sampled || o.debug, debug: o.debug,
        headers, status: res.statusCode, body: Buffer.concat(chunks).toString(),
      }) + '\n');
      process.exit(0);
    });
  });
  req.on('timeout', () => req.destroy(new Error('timed out')));
  req.on('error', (e) => fail(`GET ${o.url}: ${e.message}`));
}
