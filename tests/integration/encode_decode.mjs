// Decodes encode_fixture's output with the official OTLP decoder and
// checks every field of the protobuf encoding; then holds the OTLP/JSON
// encoding (the file exporter's lines) and the console's lines to it,
// field for field. Usage: node encode_decode.mjs DIR VERSION
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';

import {
  attributes, decodeRequest, flatten, hex, int64String, v1,
} from '../support/otlp_decode.mjs';
import { jsonSpanFlags, protoSpanFlags } from '../support/otlp_flags.mjs';
import { decodeJsonRequest, jsonViolations } from '../support/otlp_json_decode.mjs';

const [dir, version] = process.argv.slice(2);
assert.ok(dir && version, 'usage: encode_decode.mjs DIR VERSION');
const fixedBin = readFileSync(`${dir}/fixed.bin`);
const manyBin = readFileSync(`${dir}/many.bin`);

function seq(first, n) {
  return Buffer.from(Array.from({ length: n }, (_, i) => (first + i) & 0xff)).toString('hex');
}

const req = decodeRequest(fixedBin);
assert.equal(req.resourceSpans.length, 1, 'one ResourceSpans');
const rs = req.resourceSpans[0];
assert.deepEqual(attributes(rs.resource.attributes), {
  'service.name': 'encode-test',
  'process.pid': 12345,
  'host.name': 'fixture-host',
  'res.bool': true,
  'res.double': 0.5,
});
assert.equal(rs.resource.droppedAttributesCount, 2);
assert.equal(rs.scopeSpans.length, 1, 'one ScopeSpans');
const ss = rs.scopeSpans[0];
assert.equal(ss.scope.name, 'otelpreload');
assert.equal(ss.scope.version, version);
assert.equal(ss.spans.length, 5);

// Attribute value types as the wire carries them, not just as JS sees them.
function typed(span) {
  const out = {};
  for (const kv of span.attributes || []) {
    const v = kv.value;
    const which = ['stringValue', 'boolValue', 'intValue', 'doubleValue'].filter(
      (k) => v[k] !== undefined && v[k] !== null);
    assert.equal(which.length, 1, `attribute ${kv.key} has exactly one value (${which})`);
    const k = which[0];
    out[kv.key] = [k, k === 'intValue' ? int64String(v[k]) : v[k]];
  }
  return out;
}

const [a, b, c, d, e] = ss.spans;

assert.equal(hex(a.traceId), seq(0x01, 16));
assert.equal(hex(a.spanId), seq(0xa1, 8));
assert.equal(hex(a.parentSpanId), seq(0xb1, 8));
assert.equal(a.name, 'GET /checkout');
assert.equal(a.kind, 3, 'SPAN_KIND_CLIENT');
assert.equal(int64String(a.startTimeUnixNano), '1700000000123456789');
assert.equal(int64String(a.endTimeUnixNano), '1700000000987654321');
assert.deepEqual(typed(a), {
  'http.request.method': ['stringValue', 'GET'],
  'http.response.status_code': ['intValue', '503'],
  'int.max': ['intValue', '9223372036854775807'],
  'int.min': ['intValue', '-9223372036854775808'],
  'int.negative': ['intValue', '-7'],
  'bool.true': ['boolValue', true],
  'double.value': ['doubleValue', 3.25],
  'double.negative': ['doubleValue', -1e-300],
  'string.utf8': ['stringValue', 'café ✓'],
});
assert.equal(a.droppedAttributesCount, 7);
assert.equal(a.status.code, 2, 'STATUS_CODE_ERROR');
assert.equal(a.status.message, 'upstream failed');
assert.equal((a.events || []).length, 0);
assert.equal((a.links || []).length, 0);

assert.equal(hex(b.traceId), seq(0x01, 16));
assert.equal(hex(b.spanId), seq(0xc1, 8));
assert.equal(hex(b.parentSpanId), seq(0xa1, 8));
assert.equal(b.name, 'server');
assert.equal(b.kind, 2, 'SPAN_KIND_SERVER');
assert.equal(int64String(b.startTimeUnixNano), '1700000001000000000');
assert.equal(int64String(b.endTimeUnixNano), '1700000001000000001');
assert.deepEqual(typed(b), {
  'bool.false': ['boolValue', false],
  'int.zero': ['intValue', '0'],
  'double.zero': ['doubleValue', 0],
  'string.empty': ['stringValue', ''],
});
assert.equal(b.droppedAttributesCount || 0, 0);
assert.equal(b.status.code, 1, 'STATUS_CODE_OK');
assert.equal(b.status.message || '', '');

assert.equal(hex(c.traceId), seq(0x21, 16));
assert.equal(hex(c.spanId), seq(0xd1, 8));
assert.equal(hex(c.parentSpanId), '', 'a root span has no parent_span_id');
assert.equal(c.name, 'root');
assert.equal(c.kind, 1, 'SPAN_KIND_INTERNAL');
assert.equal(int64String(c.startTimeUnixNano), '1');
assert.equal(int64String(c.endTimeUnixNano), '2');
assert.deepEqual(typed(c), {});
assert.equal(c.status ? c.status.code || 0 : 0, 0, 'STATUS_CODE_UNSET');

assert.equal(hex(d.traceId), seq(0x31, 16));
assert.equal(d.kind, 5, 'SPAN_KIND_CONSUMER');
assert.equal(d.status.code, 2);
assert.equal(d.status.message || '', '');

// Invalid UTF-8 comes out as WHATWG's decoder (one U+FFFD per maximal
// ill-formed subpart, as Unicode recommends) reads the same bytes.
const repaired = (latin1) => new TextDecoder('utf-8').decode(Buffer.from(latin1, 'latin1'));

assert.equal(hex(e.traceId), seq(0x41, 16));
assert.equal(hex(e.spanId), seq(0xf1, 8));
assert.equal(hex(e.parentSpanId), seq(0x51, 8));
assert.equal(e.name, repaired('edge \xff name \xe2\x82'));
assert.equal(e.name, 'edge \ufffd name \ufffd');
assert.equal(int64String(e.startTimeUnixNano), '9223372036854775807');
assert.equal(int64String(e.endTimeUnixNano), '9223372036854775807');
assert.deepEqual(typed(e), {
  [repaired('key.\xed\xa0\x80.surrogate')]: ['stringValue', repaired('value \xc0\xaf overlong')],
  'json.escapes': ['stringValue', 'quote" backslash\\ nl\n tab\t cr\r \x01\x1f\x7f /'],
  unicode: ['stringValue', '\u2028 \u2029 \u{1f600} \uffff \u4e2d'],
  'double.nan': ['doubleValue', NaN],
  'double.inf': ['doubleValue', Infinity],
  'double.neginf': ['doubleValue', -Infinity],
  'double.negzero': ['doubleValue', -0],
  'double.max': ['doubleValue', Number.MAX_VALUE],
  'double.subnormal': ['doubleValue', Number.MIN_VALUE],
  'double.tenth': ['doubleValue', 0.1],
  'double.big': ['doubleValue', 1e21],
  'double.third': ['doubleValue', 1 / 3],
  'int.2^53+1': ['intValue', '9007199254740993'],
  'int.-2^53-1': ['intValue', '-9007199254740993'],
});
assert.equal(Object.keys(typed(e))[0], 'key.\ufffd\ufffd\ufffd.surrogate');
assert.equal(e.droppedAttributesCount, 1);
assert.equal(e.status.code, 2);
assert.equal(e.status.message, 'bad \ufffd "status"\n');

// W3C flags in the low byte, then "has is_remote" and "is_remote" (of the parent).
const fixedFlags = protoSpanFlags(fixedBin);
assert.deepEqual(ss.spans.map((s) => fixedFlags[hex(s.spanId)]), [0x101, 0x301, 0x101, 0x101, 0x300]);

const many = decodeRequest(manyBin);
const spans = many.resourceSpans.flatMap((r) => r.scopeSpans.flatMap((s) => s.spans));
assert.equal(spans.length, 1000);
const ids = new Set();
spans.forEach((s, i) => {
  assert.equal(s.name, `span-${i}`);
  assert.equal(s.kind, 4, 'SPAN_KIND_PRODUCER');
  assert.equal(int64String(s.startTimeUnixNano), String(1700000000000000000n + BigInt(i)));
  assert.equal(int64String(s.endTimeUnixNano), String(1700000000000000000n + BigInt(i) + 1000n));
  assert.deepEqual(attributes(s.attributes), { index: i });
  ids.add(hex(s.spanId));
});
assert.equal(ids.size, 1000, 'distinct span IDs');
for (const r of many.resourceSpans)
  assert.equal(attributes(r.resource.attributes)['service.name'], 'encode-test');

const manyFlags = Object.values(protoSpanFlags(manyBin));
assert.deepEqual(manyFlags, Array(1000).fill(0x101));

// --- OTLP/JSON: the file exporter's lines against the protobuf encoding --

const jsonText = readFileSync(`${dir}/requests.jsonl`, 'utf8');
assert.ok(jsonText.endsWith('\n'), 'every line ends with a newline');
const jsonLines = jsonText.slice(0, -1).split('\n');
assert.equal(jsonLines.length, 2, 'one line per batch');

const INT = /^-?(0|[1-9][0-9]*)$/;
const UINT = /^(0|[1-9][0-9]*)$/;

// What OTLP/JSON asks of the text beyond what fromObject() enforces: IDs
// as lower-case hex of the right length (no parentSpanId on a root),
// 64-bit integers as decimal strings, enums as integers, doubles as
// numbers or the three strings JSON needs for the rest, no zero counts.
function checkText(raw, bin) {
  const problems = [];
  const expect = (ok, what) => ok || problems.push(what);
  const attrs = (list, at) => list.forEach((kv, i) => {
    const v = kv.value;
    expect(Object.keys(v).length === 1, `${at}[${i}]: one value`);
    if ('intValue' in v) expect(typeof v.intValue === 'string' && INT.test(v.intValue), `${at}[${i}].intValue`);
    if ('doubleValue' in v)
      expect(typeof v.doubleValue === 'number' || ['NaN', 'Infinity', '-Infinity'].includes(v.doubleValue),
        `${at}[${i}].doubleValue`);
  });
  const dropped = (o, at) => expect(!('droppedAttributesCount' in o) || o.droppedAttributesCount > 0,
    `${at}.droppedAttributesCount: zero is left out`);
  const binSpans = bin.resourceSpans.flatMap((r) => r.scopeSpans.flatMap((x) => x.spans));
  let k = 0;
  raw.resourceSpans.forEach((r, i) => {
    attrs(r.resource.attributes, `resourceSpans[${i}].resource.attributes`);
    dropped(r.resource, `resourceSpans[${i}].resource`);
    r.scopeSpans.forEach((x) => x.spans.forEach((s) => {
      const at = `span ${k}`;
      const root = hex(binSpans[k++].parentSpanId) === '';
      expect(/^[0-9a-f]{32}$/.test(s.traceId), `${at}.traceId ${s.traceId}`);
      expect(/^[0-9a-f]{16}$/.test(s.spanId), `${at}.spanId ${s.spanId}`);
      expect(root ? !('parentSpanId' in s) : /^[0-9a-f]{16}$/.test(s.parentSpanId), `${at}.parentSpanId`);
      expect(UINT.test(s.startTimeUnixNano) && UINT.test(s.endTimeUnixNano), `${at}: times`);
      expect(Number.isInteger(s.kind) && Number.isInteger(s.status.code), `${at}: enums`);
      expect(Number.isInteger(s.flags), `${at}.flags`);
      attrs(s.attributes, `${at}.attributes`);
      dropped(s, at);
    }));
  });
  assert.deepEqual(problems, []);
}

// toObject() with every default filled in: both decodings in one shape,
// every field the generated code knows, bytes as base64, 64-bit as decimal.
const ALL = { defaults: true, arrays: true, objects: true, longs: String, enums: Number, bytes: String };
let compared = 0;
[[jsonLines[0], fixedBin], [jsonLines[1], manyBin]].forEach(([line, bin], n) => {
  const fromJson = decodeJsonRequest(line);
  const fromBin = decodeRequest(bin);
  assert.deepEqual(v1.request.toObject(fromJson, ALL), v1.request.toObject(fromBin, ALL),
    `line ${n + 1}: the JSON and protobuf encodings differ`);
  assert.deepEqual(flatten(fromJson), flatten(fromBin));

  const raw = JSON.parse(line);
  checkText(raw, fromBin);
  assert.deepEqual(jsonViolations(line), [], `line ${n + 1}: what a strict reading objects to`);
  // Span.flags is the one field the generated code does not know
  // (otlp_flags.mjs): compared on the text and the wire.
  const flags = jsonSpanFlags(line);
  assert.deepEqual(flags, protoSpanFlags(bin));
  compared += Object.keys(flags).length;
});

// --- the console: each line the Span object, resource and scope first -----

const consoleLines = readFileSync(`${dir}/console.jsonl`, 'utf8').split('\n');
assert.equal(consoleLines.pop(), '', 'the console output ends with a newline');
const raw0 = JSON.parse(jsonLines[0]).resourceSpans[0];
assert.equal(consoleLines.length, raw0.scopeSpans[0].spans.length, 'one console line per span');
consoleLines.forEach((l, i) => {
  const got = JSON.parse(l);
  assert.deepEqual(Object.keys(got).slice(0, 3), ['resource', 'scope', 'traceId']);
  assert.deepEqual(got, { resource: raw0.resource, scope: raw0.scopeSpans[0].scope, ...raw0.scopeSpans[0].spans[i] });
});

console.log(`encode_decode: ${req.resourceSpans[0].scopeSpans[0].spans.length + spans.length} spans ` +
  'decoded by the official OTLP decoder, every field as encoded; ' +
  `OTLP/JSON equal to protobuf for ${compared} spans; ${consoleLines.length} console lines agree`);
