// Decoding OTLP with the official OpenTelemetry JS protobuf code
// (@opentelemetry/otlp-transformer, generated from the OTLP .proto files),
// so the project's encoder is checked by code it does not share.
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const root = require('@opentelemetry/otlp-transformer/build/src/generated/root.js');

export const v1 = {
  request: root.opentelemetry.proto.collector.trace.v1.ExportTraceServiceRequest,
  response: root.opentelemetry.proto.collector.trace.v1.ExportTraceServiceResponse,
};

export function decodeRequest(buf) {
  return v1.request.decode(buf);
}

export function emptyResponse() {
  return Buffer.from(v1.response.encode(v1.response.create({})).finish());
}

export function hex(bytes) {
  return bytes ? Buffer.from(bytes).toString('hex') : '';
}

// A 64-bit integer (number or Long) as an exact decimal string.
export function int64String(v) {
  if (v === undefined || v === null) return undefined;
  if (typeof v === 'number' || typeof v === 'bigint') return String(v);
  return v.toString();
}

// An AnyValue as a plain JSON value. 64-bit integers outside the range a
// double holds exactly become decimal strings.
export function anyValue(v) {
  if (!v) return null;
  if (v.stringValue !== undefined && v.stringValue !== null) return v.stringValue;
  if (v.boolValue !== undefined && v.boolValue !== null) return v.boolValue;
  if (v.intValue !== undefined && v.intValue !== null) {
    const s = int64String(v.intValue);
    const n = Number(s);
    return Number.isSafeInteger(n) ? n : s;
  }
  if (v.doubleValue !== undefined && v.doubleValue !== null) return v.doubleValue;
  if (v.arrayValue) return (v.arrayValue.values || []).map(anyValue);
  if (v.kvlistValue) return attributes(v.kvlistValue.values);
  if (v.bytesValue) return hex(v.bytesValue);
  return null;
}

export function attributes(list) {
  const out = {};
  for (const kv of list || []) out[kv.key] = anyValue(kv.value);
  return out;
}

// One flat object per span: what the integration tests assert on.
export function flatten(req) {
  const spans = [];
  for (const rs of req.resourceSpans || []) {
    const resource = attributes(rs.resource && rs.resource.attributes);
    for (const ss of rs.scopeSpans || []) {
      const scope = { name: ss.scope ? ss.scope.name : '', version: ss.scope ? ss.scope.version : '' };
      for (const s of ss.spans || []) {
        spans.push({
          traceId: hex(s.traceId),
          spanId: hex(s.spanId),
          parentSpanId: hex(s.parentSpanId),
          name: s.name,
          kind: s.kind,
          startTimeUnixNano: int64String(s.startTimeUnixNano),
          endTimeUnixNano: int64String(s.endTimeUnixNano),
          attributes: attributes(s.attributes),
          droppedAttributesCount: s.droppedAttributesCount || 0,
          status: { code: s.status ? s.status.code || 0 : 0, message: s.status ? s.status.message || '' : '' },
          scope,
          resource,
        });
      }
    }
  }
  return spans;
}
