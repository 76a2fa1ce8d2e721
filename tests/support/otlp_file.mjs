// Reads a file of OTLP/JSON lines (what OTELPRELOAD_FILE and the
// Collector's file exporter write: one ExportTraceServiceRequest per line)
// with the official OpenTelemetry JS decoder, and prints one JSON line per
// span: flatten()'s fields, plus `line` (1-based) and `flags` (Span.flags,
// which the generated code does not know: otlp_flags.mjs).
//
//   node otlp_file.mjs FILE
//
// Exits 1, naming the line, when a line is not a whole request the decoder
// reads, or one that a strict reading objects to (jsonViolations()).
import { readFileSync } from 'node:fs';

import { flatten } from './otlp_decode.mjs';
import { jsonSpanFlags } from './otlp_flags.mjs';
import { decodeJsonRequest, jsonViolations } from './otlp_json_decode.mjs';

const [path] = process.argv.slice(2);
if (!path) {
  console.error('usage: otlp_file.mjs FILE');
  process.exit(2);
}

const text = readFileSync(path, 'utf8');
if (text !== '' && !text.endsWith('\n')) {
  console.error(`${path}: the last line has no newline (a line cut short?)`);
  process.exit(1);
}
const out = [];
text.split('\n').slice(0, -1).forEach((line, i) => {
  let spans, flags, violations;
  try {
    spans = flatten(decodeJsonRequest(line));
    flags = jsonSpanFlags(line);
    violations = jsonViolations(line);
  } catch (e) {
    console.error(`${path}:${i + 1}: ${e.message}: ${line.slice(0, 200)}`);
    process.exit(1);
  }
  if (violations.length) {
    console.error(`${path}:${i + 1}: ${violations.join('; ')}`);
    process.exit(1);
  }
  spans.forEach((s) => out.push(JSON.stringify({ ...s, line: i + 1, flags: flags[s.spanId] })));
});
process.stdout.write(out.map((l) => l + '\n').join(''));
