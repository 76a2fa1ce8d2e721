// The Zipkin v2 span model, checked strictly: what a Zipkin server accepts
// at POST /api/v2/spans, taken from openzipkin/zipkin-api's zipkin2-api.yaml
// (definitions ListOfSpans, Span, Endpoint, Annotation, Tags), made stricter
// where a lenient reader would hide an encoder's mistake:
//
//   - the body must be UTF-8 and JSON, with no key twice in an object
//     (JSON.parse keeps the last one silently) and no lone surrogate;
//   - no field outside the model (a typo such as "parentSpanId" would be
//     ignored by Zipkin and the link lost);
//   - traceId: 16 or 32 lower-case hex digits, id and parentId: 16, none
//     of them all zeros;
//   - kind: CLIENT, SERVER, PRODUCER or CONSUMER when present;
//   - timestamp, duration, port, annotation timestamps: integer literals
//     (no fraction, no exponent); timestamp >= 1 (0 means absent and should
//     be left out), duration >= 1 (the yaml's minimum), port 1..65535 (the
//     yaml: "Please don't set to zero");
//   - endpoints: serviceName a string, ipv4 and ipv6 IP literals of their
//     family (an IPv4-mapped address belongs in ipv4, as the yaml prefers),
//     never an empty object (an absent endpoint is left out);
//   - tags: an object of non-empty keys and string values only.
import { isIPv4, isIPv6 } from 'node:net';

// A number as written, so integers can be told from 1.0 or 1e3.
class Num {
  constructor(raw) {
    this.raw = raw;
    this.value = Number(raw);
    this.integer = /^-?(0|[1-9][0-9]*)$/.test(raw);
  }
}

// JSON.parse's grammar, refusing duplicate keys and lone surrogates, with
// numbers kept as Num.
export function parseStrict(text) {
  let i = 0;
  const fail = (msg) => {
    throw new Error(`${msg} at offset ${i}`);
  };
  const ws = () => {
    while (i < text.length && ' \t\n\r'.includes(text[i])) i++;
  };
  const STRING = /"(?:[^"\\\u0000-\u001f]|\\(?:["\\/bfnrt]|u[0-9a-fA-F]{4}))*"/y;
  const NUMBER = /-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?/y;
  const string = () => {
    STRING.lastIndex = i;
    const m = STRING.exec(text);
    if (!m) fail('malformed string');
    const s = JSON.parse(m[0]);
    if (!s.isWellFormed()) fail('lone surrogate in string');
    i += m[0].length;
    return s;
  };
  const value = () => {
    ws();
    const c = text[i];
    if (c === '{') {
      const o = Object.create(null);
      i++;
      ws();
      if (text[i] === '}') {
        i++;
        return o;
      }
      for (;;) {
        ws();
        if (text[i] !== '"') fail('expected a key');
        const k = string();
        if (Object.prototype.hasOwnProperty.call(o, k)) fail(`duplicate key ${JSON.stringify(k)}`);
        ws();
        if (text[i++] !== ':') fail('expected :');
        o[k] = value();
        ws();
        if (text[i] === ',') i++;
        else if (text[i] === '}') {
          i++;
          return o;
        } else fail('expected , or }');
      }
    }
    if (c === '[') {
      const a = [];
      i++;
      ws();
      if (text[i] === ']') {
        i++;
        return a;
      }
      for (;;) {
        a.push(value());
        ws();
        if (text[i] === ',') i++;
        else if (text[i] === ']') {
          i++;
          return a;
        } else fail('expected , or ]');
      }
    }
    if (c === '"') return string();
    for (const [word, v] of [['true', true], ['false', false], ['null', null]]) {
      if (text.startsWith(word, i)) {
        i += word.length;
        return v;
      }
    }
    NUMBER.lastIndex = i;
    const m = NUMBER.exec(text);
    if (!m) fail('unexpected character');
    i += m[0].length;
    return new Num(m[0]);
  };
  const v = value();
  ws();
  if (i !== text.length) fail('trailing data');
  return v;
}

const SPAN_FIELDS = new Set(['traceId', 'id', 'parentId', 'name', 'kind', 'timestamp', 'duration',
  'debug', 'shared', 'localEndpoint', 'remoteEndpoint', 'annotations', 'tags']);
const ENDPOINT_FIELDS = new Set(['serviceName', 'ipv4', 'ipv6', 'port']);
const KINDS = new Set(['CLIENT', 'SERVER', 'PRODUCER', 'CONSUMER']);

const show = (v) => (v instanceof Num ? v.raw : JSON.stringify(plain(v)));
const isObject = (v) => v !== null && typeof v === 'object' && !Array.isArray(v) && !(v instanceof Num);

// Checks one parsed body; returns [errors, spans as plain JSON values].
export function validate(body) {
  const errors = [];
  const bad = (path, msg) => errors.push(`${path}: ${msg}`);

  const hexId = (path, v, lengths) => {
    if (typeof v !== 'string') return bad(path, 'not a string');
    if (!lengths.includes(v.length) || !/^[0-9a-f]*$/.test(v))
      return bad(path, `${JSON.stringify(v)} is not ${lengths.join(' or ')} lower-case hex digits`);
    if (/^0*$/.test(v)) bad(path, 'all zeros');
  };
  const integer = (path, v, min, max = Number.MAX_SAFE_INTEGER) => {
    if (!(v instanceof Num)) return bad(path, `not a number: ${show(v)}`);
    if (!v.integer) return bad(path, `${v.raw} is not an integer literal`);
    if (!Number.isSafeInteger(v.value) || v.value < min || v.value > max)
      bad(path, `${v.raw} is outside ${min}..${max}`);
  };
  const endpoint = (path, e) => {
    if (!isObject(e)) return bad(path, 'not an object');
    const keys = Object.keys(e);
    if (!keys.length) bad(path, 'empty: leave an unknown endpoint out');
    for (const k of keys) if (!ENDPOINT_FIELDS.has(k)) bad(`${path}.${k}`, 'not in the Endpoint model');
    if ('serviceName' in e && typeof e.serviceName !== 'string') bad(`${path}.serviceName`, 'not a string');
    if ('ipv4' in e && !(typeof e.ipv4 === 'string' && isIPv4(e.ipv4)))
      bad(`${path}.ipv4`, `${JSON.stringify(e.ipv4)} is not an IPv4 address`);
    if ('ipv6' in e) {
      if (!(typeof e.ipv6 === 'string' && isIPv6(e.ipv6)))
        bad(`${path}.ipv6`, `${JSON.stringify(e.ipv6)} is not an IPv6 address`);
      else if (/^::ffff:[0-9.]+$/i.test(e.ipv6)) bad(`${path}.ipv6`, 'an IPv4-mapped address belongs in ipv4');
    }
    if ('port' in e) integer(`${path}.port`, e.port, 1, 65535);
  };

  if (!Array.isArray(body)) {
    bad('$', 'not an array (ListOfSpans)');
    return [errors, []];
  }
  body.forEach((s, n) => {
    const p = `$[${n}]`;
    if (!isObject(s)) return bad(p, 'not an object');
    for (const k of Object.keys(s)) if (!SPAN_FIELDS.has(k)) bad(`${p}.${k}`, 'not in the Span model');
    if (!('traceId' in s)) bad(p, 'traceId is required');
    else hexId(`${p}.traceId`, s.traceId, [16, 32]);
    if (!('id' in s)) bad(p, 'id is required');
    else hexId(`${p}.id`, s.id, [16]);
    if ('parentId' in s) hexId(`${p}.parentId`, s.parentId, [16]);
    if ('name' in s && typeof s.name !== 'string') bad(`${p}.name`, 'not a string');
    if ('kind' in s && !KINDS.has(s.kind)) bad(`${p}.kind`, `${JSON.stringify(s.kind)} is not a Zipkin kind`);
    if ('timestamp' in s) integer(`${p}.timestamp`, s.timestamp, 1);
    if ('duration' in s) integer(`${p}.duration`, s.duration, 1);
    for (const k of ['debug', 'shared'])
      if (k in s && typeof s[k] !== 'boolean') bad(`${p}.${k}`, 'not a boolean');
    for (const k of ['localEndpoint', 'remoteEndpoint']) if (k in s) endpoint(`${p}.${k}`, s[k]);
    if ('annotations' in s) {
      if (!Array.isArray(s.annotations)) bad(`${p}.annotations`, 'not an array');
      else
        s.annotations.forEach((a, j) => {
          const q = `${p}.annotations[${j}]`;
          if (!isObject(a)) return bad(q, 'not an object');
          const keys = Object.keys(a).sort().join(',');
          if (keys !== 'timestamp,value') bad(q, `fields ${keys}, want timestamp and value`);
          integer(`${q}.timestamp`, a.timestamp, 1);
          if (typeof a.value !== 'string') bad(`${q}.value`, 'not a string');
        });
    }
    if ('tags' in s) {
      if (!isObject(s.tags)) bad(`${p}.tags`, 'not an object');
      else
        for (const [k, v] of Object.entries(s.tags)) {
          if (!k) bad(`${p}.tags`, 'empty key');
          if (typeof v !== 'string') bad(`${p}.tags[${JSON.stringify(k)}]`, `not a string: ${show(v)}`);
        }
    }
  });
  return [errors, plain(body)];
}

// Num -> number; null-prototype objects -> ordinary ones.
function plain(v) {
  if (v instanceof Num) return v.value;
  if (Array.isArray(v)) return v.map(plain);
  if (v !== null && typeof v === 'object') {
    const o = {};
    for (const [k, x] of Object.entries(v)) o[k] = plain(x);
    return o;
  }
  return v;
}

// Bytes of a request body -> [errors, spans]. Never throws.
export function checkBody(buf) {
  let text;
  try {
    text = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(buf);
  } catch {
    return [['$: the body is not UTF-8'], []];
  }
  let tree;
  try {
    tree = parseStrict(text);
  } catch (e) {
    return [[`$: not JSON: ${e.message}`], []];
  }
  return validate(tree);
}
