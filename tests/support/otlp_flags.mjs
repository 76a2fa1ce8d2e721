// Span.flags (field 16, fixed32: the W3C trace flags in the low byte, the
// "parent is remote" bits above) as sent, for every span of a request.
// The generated code of @opentelemetry/otlp-transformer 0.57 predates the
// field and skips it, so this reads it from the wire with protobufjs'
// Reader (protobuf) or from the parsed body (OTLP/JSON). Both return
// { "<hex span ID>": flags }, 0 where the field is absent.
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const { Reader } = require('protobufjs/minimal');

// Calls fn(fieldNumber, reader) for each field of the message in buf;
// fn returns true when it consumed the value, else it is skipped.
function fields(buf, fn) {
  const r = Reader.create(buf);
  while (r.pos < r.len) {
    const tag = r.uint32();
    if (!fn(tag >>> 3, r, tag & 7)) r.skipType(tag & 7);
  }
}

export function protoSpanFlags(buf) {
  const out = {};
  fields(buf, (f, r) => {
    if (f !== 1) return false; // ExportTraceServiceRequest.resource_spans
    fields(r.bytes(), (f2, r2) => {
      if (f2 !== 2) return false; // ResourceSpans.scope_spans
      fields(r2.bytes(), (f3, r3) => {
        if (f3 !== 2) return false; // ScopeSpans.spans
        let id = '';
        let flags = 0;
        fields(r3.bytes(), (f4, r4, wt) => {
          if (f4 === 2 && wt === 2) id = Buffer.from(r4.bytes()).toString('hex');
          else if (f4 === 16 && wt === 5) flags = r4.fixed32();
          else return false;
          return true;
        });
        out[id] = flags;
        return true;
      });
      return true;
    });
    return true;
  });
  return out;
}

export function jsonSpanFlags(body) {
  const out = {};
  const obj = JSON.parse(Buffer.isBuffer(body) ? body.toString('utf8') : String(body));
  for (const rs of obj.resourceSpans || [])
    for (const ss of rs.scopeSpans || [])
      for (const s of ss.spans || []) out[String(s.spanId).toLowerCase()] = s.flags || 0;
  return out;
}
