// Decodes encode_fixture's output with the official OTLP decoder and
// checks every field. Usage: node encode_decode.mjs FIXED.bin MANY.bin VERSION
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';

import { attributes, decodeRequest, hex, int64String } from '../support/otlp_decode.mjs';

const [fixedPath, manyPath, version] = process.argv.slice(2);
assert.ok(fixedPath && manyPath && version, 'usage: encode_decode.mjs FIXED MANY VERSION');

function seq(first, n) {
  return Buffer.from(Array.from({ length: n }, (_, i) => (first + i) & 0xff)).toString('hex');
}

const req = decodeRequest(readFileSync(fixedPath));
assert.equal(req.resourceSpans.length, 1, 'one ResourceSpans');
const rs = req.resourceSpans[0];
assert.deepEqual(attributes(rs.resource.attributes), {
  'service.name': 'encode-test',
  'process.pid': 12345,
  'host.name': 'fixture-host',
  'res.bool': true,
  'res.double': 0.5,
});
assert.equal(rs.resource.droppedAttributesCount || 0, 0);
assert.equal(rs.scopeSpans.length, 1, 'one ScopeSpans');
const ss = rs.scopeSpans[0];
assert.equal(ss.scope.name, 'otelpreload');
assert.equal(ss.scope.version, version);
assert.equal(ss.spans.length, 4);

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

const [a, b, c, d] = ss.spans;

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

const many = decodeRequest(readFileSync(manyPath));
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

console.log('encode_decode: 1004 spans decoded by the official OTLP decoder, every field as encoded');
