// Decoding OTLP/JSON (http/json) with the official OpenTelemetry JS
// protobuf code: the body is parsed, the hex trace and span IDs that
// OTLP/JSON uses are turned into bytes, and the generated
// ExportTraceServiceRequest.fromObject() (@opentelemetry/otlp-transformer)
// builds the message, so flatten() of otlp_decode.mjs applies unchanged.
//
// OTLP/JSON is protobuf's JSON mapping with these differences (OTLP
// specification, "JSON Protobuf Encoding"): traceId/spanId/parentSpanId
// (and those of links) are hex strings, not base64; enum values are
// integers; keys are lowerCamelCase field names. A receiver must ignore
// unknown keys, so decodeJsonRequest() does; jsonViolations() lists what
// a strict reading objects to, for tests to assert on.
//
// The generated code of @opentelemetry/otlp-transformer 0.57 predates
// Span.flags (16) and Span.Link.flags (6) of OTLP 1.1: both decoders skip
// them. jsonViolations() accepts them when they are integers;
// otlp_flags.mjs reads them.
import { v1 } from './otlp_decode.mjs';

const HEX = /^(?:[0-9a-fA-F]{2})*$/;

function idBytes(v, where, lengths) {
  if (typeof v !== 'string') throw new Error(`${where}: a hex string expected, got ${JSON.stringify(v)}`);
  if (!HEX.test(v) || !lengths.includes(v.length))
    throw new Error(`${where}: ${JSON.stringify(v)} is not ${lengths.join(' or ')} hex digits`);
  return Buffer.from(v, 'hex');
}

// A copy of the parsed body with every ID as bytes.
function withIdBytes(obj) {
  const out = structuredClone(obj);
  (out.resourceSpans || []).forEach((rs, i) =>
    ((rs && rs.scopeSpans) || []).forEach((ss, j) =>
      ((ss && ss.spans) || []).forEach((s, k) => {
        const at = `resourceSpans[${i}].scopeSpans[${j}].spans[${k}]`;
        if (s.traceId !== undefined) s.traceId = idBytes(s.traceId, `${at}.traceId`, [32]);
        if (s.spanId !== undefined) s.spanId = idBytes(s.spanId, `${at}.spanId`, [16]);
        if (s.parentSpanId !== undefined)
          s.parentSpanId = idBytes(s.parentSpanId, `${at}.parentSpanId`, [0, 16]);
        (s.links || []).forEach((l, m) => {
          if (l.traceId !== undefined) l.traceId = idBytes(l.traceId, `${at}.links[${m}].traceId`, [32]);
          if (l.spanId !== undefined) l.spanId = idBytes(l.spanId, `${at}.links[${m}].spanId`, [16]);
        });
      }),
    ),
  );
  return out;
}

function parse(body) {
  const text = Buffer.isBuffer(body) ? body.toString('utf8') : String(body);
  const obj = JSON.parse(text);
  if (!obj || typeof obj !== 'object' || Array.isArray(obj))
    throw new Error('an ExportTraceServiceRequest must be a JSON object');
  return obj;
}

// body: Buffer or string holding an OTLP/JSON ExportTraceServiceRequest.
// Returns the protobufjs message, as decodeRequest() does for protobuf.
// Throws on malformed JSON or IDs that are not hex of the right length.
export function decodeJsonRequest(body) {
  return v1.request.fromObject(withIdBytes(parse(body)));
}

// What a strict reading finds wrong in a body decodeJsonRequest() accepts:
// keys that are not lowerCamelCase field names (snake_case ones included),
// enum values that are not integers. Returns a list of messages.
export function jsonViolations(body) {
  const obj = parse(body);
  const msg = v1.request.fromObject(withIdBytes(obj));
  const back = v1.request.toObject(msg, {
    defaults: true, arrays: true, objects: true, longs: String, enums: Number, bytes: String,
  });
  const found = [];
  const walk = (a, b, path) => {
    if (Array.isArray(a)) {
      a.forEach((x, i) => walk(x, Array.isArray(b) ? b[i] : undefined, `${path}[${i}]`));
      return;
    }
    if (!a || typeof a !== 'object') return;
    for (const k of Object.keys(a)) {
      if (k === 'flags' && /\.spans\[\d+\](\.links\[\d+\])?$/.test(path)) {
        if (!Number.isInteger(a[k]) || a[k] < 0 || a[k] > 0xffffffff)
          found.push(`${path}.flags: ${JSON.stringify(a[k])} is not a fixed32 integer`);
        continue;
      }
      if (!b || typeof b !== 'object' || !(k in b)) {
        found.push(`unknown field ${path}.${k}`);
        continue;
      }
      if ((k === 'kind' || k === 'code') && typeof a[k] !== 'number')
        found.push(`${path}.${k}: enum value ${JSON.stringify(a[k])} is not an integer`);
      walk(a[k], b[k], `${path}.${k}`);
    }
  };
  walk(obj, back, '');
  return found;
}

// An ExportTraceServiceResponse in OTLP/JSON (int64 as a string, as
// protobuf's JSON mapping and the Collector write it).
export function jsonResponse(rejected, message) {
  if (!rejected && !message) return Buffer.from('{}');
  return Buffer.from(JSON.stringify({
    partialSuccess: { rejectedSpans: String(rejected || 0), errorMessage: message || '' },
  }));
}

