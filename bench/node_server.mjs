// The Node.js server of bench/suite.sh: node's plain `http` module answering
// every request 200 with a BYTES-byte text body, keep-alive, on 127.0.0.1.
//
//   node bench/node_server.mjs PORT_FILE BYTES LIFETIME [--otel-sdk ENDPOINT]
//
// It writes the port the kernel picked to PORT_FILE once listening and exits
// after LIFETIME seconds, on SIGTERM or on SIGINT.
//
// With --otel-sdk it instruments itself with the official OpenTelemetry JS
// SDK, as its documentation shows: NodeTracerProvider, HttpInstrumentation
// (one SERVER span per request), always_on sampling, a BatchSpanProcessor with
// the SDK's defaults (queue 2048, batch 512, 5 s delay, the same as
// otelpreload's OTEL_BSP_* defaults) and the OTLP/HTTP protobuf exporter
// posting to ENDPOINT/v1/traces: what otelpreload does for the same server
// from outside. Without it the server is the one otelpreload runs under.
import { writeFileSync, renameSync } from 'node:fs';
import { createRequire } from 'node:module';

const [portFile, bytes, lifetime, flag, endpoint] = process.argv.slice(2);
if (!portFile || !(Number(bytes) >= 0) || !(Number(lifetime) > 0) ||
    (flag !== undefined && (flag !== '--otel-sdk' || !endpoint))) {
  process.stderr.write('usage: node bench/node_server.mjs PORT_FILE BYTES LIFETIME [--otel-sdk ENDPOINT]\n');
  process.exit(2);
}

// The OpenTelemetry packages live in tests/node_modules (tests/package.json).
const require = createRequire(new URL('../tests/package.json', import.meta.url));
let provider = null;
if (flag) {
  const { AlwaysOnSampler, BatchSpanProcessor } = require('@opentelemetry/sdk-trace-base');
  const { NodeTracerProvider } = require('@opentelemetry/sdk-trace-node');
  const { OTLPTraceExporter } = require('@opentelemetry/exporter-trace-otlp-proto');
  const { HttpInstrumentation } = require('@opentelemetry/instrumentation-http');
  const { registerInstrumentations } = require('@opentelemetry/instrumentation');
  const { Resource } = require('@opentelemetry/resources');
  provider = new NodeTracerProvider({
    resource: new Resource({ 'service.name': 'node-bench-sdk' }),
    sampler: new AlwaysOnSampler(),
    spanProcessors: [new BatchSpanProcessor(new OTLPTraceExporter({ url: `${endpoint}/v1/traces` }))],
  });
  provider.register();
  registerInstrumentations({ instrumentations: [new HttpInstrumentation()] });
}
// Loaded only now, so that the instrumentation (when there is one) has patched it.
const http = require('node:http');

const body = Buffer.alloc(Number(bytes), 'x');
const server = http.createServer((req, res) => {
  req.resume();
  req.on('end', () => {
    res.writeHead(200, { 'Content-Type': 'text/html', 'Content-Length': body.length });
    res.end(body);
  });
});
server.keepAliveTimeout = 60000;

let exiting = false;
async function finish() {
  if (exiting) return;
  exiting = true;
  server.close();
  if (provider) {
    try {
      await provider.shutdown();
    } catch (e) {
      process.stderr.write(`node_server: shutdown: ${e}\n`);
    }
  }
  process.exit(0);
}

server.listen(0, '127.0.0.1', () => {
  writeFileSync(`${portFile}.tmp`, `${server.address().port}\n`);
  renameSync(`${portFile}.tmp`, portFile);
});
setTimeout(finish, Number(lifetime) * 1000).unref();
process.on('SIGTERM', finish);
process.on('SIGINT', finish);
