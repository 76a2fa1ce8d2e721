// What the test receivers (otlp_receiver.mjs, otlp_grpc_receiver.mjs,
// zipkin_receiver.mjs) share: their command line, the options of --script
// steps, the --requests log, and how they announce their port and stop.
//
// Every receiver takes --port-file FILE, --out FILE, --requests FILE and
// --lifetime SECONDS (default 60), plus a table of its own options.
import { appendFileSync, renameSync, writeFileSync } from 'node:fs';

// Option tables map a name to [key, parse]: the value given goes through
// parse(value) into o[key]. An entry without parse is a flag that takes no
// value and sets o[key] = true.
export const text = (v) => v;

const COMMON_OPTIONS = {
  '--port-file': ['portFile', text],
  '--out': ['out', text],
  '--requests': ['requests', text],
  '--lifetime': ['lifetime', Number],
};

// --tls-cert PEM --tls-key PEM [--client-ca PEM], for the receivers that
// serve TLS; checkTls checks how they go together.
export const TLS_OPTIONS = {
  '--tls-cert': ['tlsCert', text],
  '--tls-key': ['tlsKey', text],
  '--client-ca': ['clientCa', text],
};

// Parses argv: the common options and those of extra, starting from
// defaults (lifetime 60 unless defaults says otherwise). Throws on an
// unknown argument or an option without its value; which options are
// required is the caller's to check.
export function parseArgs(argv, defaults, extra) {
  const table = { ...COMMON_OPTIONS, ...extra };
  const o = { lifetime: 60, ...defaults };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (!Object.hasOwn(table, a)) throw new Error(`unknown argument ${a}`);
    const [key, parse] = table[a];
    if (!parse) {
      o[key] = true;
      continue;
    }
    if (i + 1 >= argv.length) throw new Error(`${a} needs a value`);
    o[key] = parse(argv[++i]);
  }
  return o;
}

export function checkTls(o) {
  if (!o.tlsCert !== !o.tlsKey) throw new Error('--tls-cert and --tls-key go together');
  if (o.clientCa && !o.tlsCert) throw new Error('--client-ca needs --tls-cert');
}

// Parses a --script LIST: comma-separated steps, each HEAD[:OPTION...].
// head(HEAD, step) makes the step from its HEAD (step is the whole,
// trimmed text, for messages); options maps each OPTION's KEY (KEY=VALUE)
// to [field, parse], which sets step[field] = parse(VALUE).
export function parseScript(list, head, options) {
  return list.split(',').map((tok) => {
    tok = tok.trim();
    const [first, ...opts] = tok.split(':');
    const step = head(first, tok);
    for (const o of opts) {
      const [k, v] = o.split('=');
      if (!Object.hasOwn(options, k)) throw new Error(`--script: unknown option ${o}`);
      const [field, parse] = options[k];
      step[field] = parse(v);
    }
    return step;
  });
}

// The errorMessage of a partial_success that rejects n spans.
export const partialMessage = (n) => `test receiver rejected ${n} spans`;

// Returns a clock for arrival times: time (epoch ms) and mono (monotonic
// ms since startClock was called).
export function startClock() {
  const t0 = process.hrtime.bigint();
  return () => ({ time: Date.now(), mono: Number(process.hrtime.bigint() - t0) / 1e6 });
}

// Returns the --requests logger: it appends each entry to file as one JSON
// line, or does nothing when there is no file.
export function requestLog(file) {
  return (entry) => {
    if (file) appendFileSync(file, JSON.stringify(entry) + '\n');
  };
}

// One JSON line per item, as --out holds spans.
export const jsonLines = (items) => items.map((s) => JSON.stringify(s) + '\n').join('');

// Appends the spans (if any) to file, one JSON line each.
export function appendSpans(file, spans) {
  if (spans.length) appendFileSync(file, jsonLines(spans));
}

// The TLS details of a connection (protocol, alpn, authorized and the
// client certificate's subject), or null when it is not TLS.
export function tlsInfo(socket) {
  if (!socket || typeof socket.getProtocol !== 'function') return null;
  const info = { protocol: socket.getProtocol(), alpn: socket.alpnProtocol || '', authorized: socket.authorized };
  const peer = socket.getPeerCertificate();
  if (peer && peer.subject) info.clientSubject = peer.subject;
  return info;
}

// Handshakes that fail (no or a wrong client certificate, a client that
// does not trust us) are counted in the log, not fatal.
export function logTlsErrors(server, log) {
  server.on('tlsClientError', (err) => {
    log({ seq: 0, time: Date.now(), tlsError: String(err.code || err.message) });
  });
}

// Exits (status 0) on SIGTERM or SIGINT, and by itself after lifetime
// seconds.
export function exitAfter(lifetime) {
  const stop = () => process.exit(0);
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  setTimeout(stop, lifetime * 1000).unref();
}

// Writes the port to portFile through portFile.tmp and a rename, so that
// a test waiting for the file never reads it half written.
export function writePortFile(portFile, port) {
  const tmp = `${portFile}.tmp`;
  writeFileSync(tmp, `${port}\n`);
  renameSync(tmp, portFile);
}

// Listens on 127.0.0.1 only, on port (0: one the kernel picks), and writes
// the port to portFile once listening.
export function listenLocal(server, port, portFile) {
  server.listen(port, '127.0.0.1', () => writePortFile(portFile, server.address().port));
}
