/*
 * Spans as Zipkin v2 JSON (zipkin2-api.yaml's ListOfSpans), mapped the way
 * the OpenTelemetry specification says: trace/sdk_exporters/zipkin.md, and
 * common/mapping-to-non-otlp.md where that document is silent.
 *
 * Zipkin has no resource and no scope: every span carries its service name
 * in localEndpoint and everything else as string tags, so a batch repeats
 * the resource once per span.
 */
#include <arpa/inet.h>
#include <math.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../preload/op.h"
#include "otlp_encode.h"
#include "zipkin.h"

/*
 * Tags this encoder writes itself. A span or resource attribute of the same
 * name is left out, so no JSON object ever holds a key twice (Zipkin would
 * keep whichever it read last).
 */
#define TAG_STATUS_CODE   "otel.status_code"
#define TAG_ERROR         "error"
#define TAG_DROPPED_ATTRS "otel.dropped_attributes_count"

/* "unknown_service:" and an executable's name, a file name (NAME_MAX, 255). */
#define OP_UNKNOWN_SERVICE_MAX (16 + 255 + 1)

/* The scope, under its names and under the deprecated ones that MUST follow them. */
static const char *const scope_tags[][2] = {
	{ "otel.scope.name", OP_SCOPE_NAME },
	{ "otel.scope.version", OP_VERSION },
	{ "otel.library.name", OP_SCOPE_NAME },
	{ "otel.library.version", OP_VERSION },
};

/*
 * The attributes that name a CLIENT or PRODUCER span's peer, in the
 * specification's order of preference ("Remote endpoint", OTLP -> Zipkin);
 * a CONSUMER's peer is the broker too, named the same way.
 * A name becomes remoteEndpoint.serviceName; an address (with its port)
 * becomes ipv4 or ipv6 and port. The first name and the first address that
 * parses as an IP literal are taken, so a span that knows both the host it
 * asked for and the socket it reached shows both, as Zipkin's Endpoint
 * allows. Our own HTTP spans set server.address and network.peer.*; the
 * rest are older conventions a span could only get from elsewhere.
 */
static const struct peer_key {
	const char *key;
	const char *port_key;   /* NULL: a name, not an address */
} peer_keys[] = {
	{ "peer.service", NULL },
	{ "server.address", NULL },
	{ "net.peer.name", NULL },
	{ "network.peer.address", "network.peer.port" },
	{ "server.socket.domain", NULL },
	{ "server.socket.address", "server.socket.port" },
	{ "net.sock.peer.name", NULL },
	{ "net.sock.peer.addr", "net.sock.peer.port" },
	{ "peer.hostname", NULL },
	{ "peer.address", NULL },
	{ "db.name", NULL },
};

/*
 * A SERVER span's remote endpoint is its client (zipkin2-api.yaml, Span.kind).
 * The specification ranks nothing for it; the socket peer is what we know,
 * client.address when a span has only that.
 */
static const struct peer_key client_keys[] = {
	{ "network.peer.address", "network.peer.port" },
	{ "client.address", "client.port" },
};

struct endpoint {
	const char *name;                /* serviceName, NULL: none */
	char ip[INET6_ADDRSTRLEN];       /* "": none */
	bool ipv6;
	int port;                        /* 0: none, Zipkin asks never to send 0 */
};

/*
 * The exporter module does not link the SDK's op_attrs_get(), and the
 * lists are short: a plain scan.
 */
static const struct op_attr *find(const struct op_attrs *a, const char *key)
{
	uint32_t i;

	for (i = 0; i < a->n; i++)
		if (a->v[i].key && !strcmp(a->v[i].key, key))
			return &a->v[i];
	return NULL;
}

/* A string attribute's non-empty value, else NULL. */
static const char *find_str(const struct op_attrs *a, const char *key)
{
	const struct op_attr *at = find(a, key);

	if (!at || at->type != OP_ATTR_STRING || !at->v.s || !at->v.s[0])
		return NULL;
	return at->v.s;
}

/* A port as an int attribute or a decimal string; 0 when absent or out of range. */
static int find_port(const struct op_attrs *a, const char *key)
{
	const struct op_attr *at = find(a, key);
	long long v = 0;
	char *end;

	if (!at)
		return 0;
	if (at->type == OP_ATTR_INT) {
		v = at->v.i;
	} else if (at->type == OP_ATTR_STRING && at->v.s && at->v.s[0]) {
		v = strtoll(at->v.s, &end, 10);
		if (*end)
			return 0;
	}
	return v > 0 && v <= 65535 ? (int)v : 0;
}

/*
 * Zipkin wants an IP literal in ipv4 or ipv6 and nothing else there (a
 * network.peer.address may be a Unix socket path). The text is normalised
 * through inet_pton/inet_ntop; an IPv4-mapped IPv6 address goes to ipv4, as
 * zipkin2-api.yaml prefers; an IPv6 zone ("%eth0") has no place in the model
 * and is dropped.
 */
static bool parse_ip(const char *s, struct endpoint *ep)
{
	static const uint8_t mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };
	struct in6_addr a6;
	struct in_addr a4;
	char tmp[INET6_ADDRSTRLEN];
	size_t len = strcspn(s, "%");

	if (inet_pton(AF_INET, s, &a4) == 1) {
		ep->ipv6 = false;
		return inet_ntop(AF_INET, &a4, ep->ip, sizeof ep->ip) != NULL;
	}
	if (len >= sizeof tmp)
		return false;
	memcpy(tmp, s, len);
	tmp[len] = '\0';
	if (inet_pton(AF_INET6, tmp, &a6) != 1)
		return false;
	if (!memcmp(a6.s6_addr, mapped, sizeof mapped)) {
		memcpy(&a4, a6.s6_addr + 12, 4);
		ep->ipv6 = false;
		return inet_ntop(AF_INET, &a4, ep->ip, sizeof ep->ip) != NULL;
	}
	ep->ipv6 = true;
	return inet_ntop(AF_INET6, &a6, ep->ip, sizeof ep->ip) != NULL;
}

static void peer_from(const struct op_attrs *a, const struct peer_key *keys, size_t n,
		      struct endpoint *ep)
{
	size_t i;

	for (i = 0; i < n; i++) {
		const char *v = find_str(a, keys[i].key);

		if (!v)
			continue;
		if (!keys[i].port_key) {
			if (!ep->name)
				ep->name = v;
		} else if (!ep->ip[0] && parse_ip(v, ep)) {
			ep->port = find_port(a, keys[i].port_key);
		}
	}
}

static bool remote_endpoint(const struct op_span *s, struct endpoint *ep)
{
	memset(ep, 0, sizeof *ep);
	switch (s->kind) {
	case OP_SPAN_KIND_CLIENT:
	case OP_SPAN_KIND_PRODUCER:
	case OP_SPAN_KIND_CONSUMER:     /* the broker, as for a producer */
		peer_from(&s->attrs, peer_keys, sizeof peer_keys / sizeof *peer_keys, ep);
		break;
	case OP_SPAN_KIND_SERVER:
		peer_from(&s->attrs, client_keys, sizeof client_keys / sizeof *client_keys, ep);
		break;
	default:
		break;
	}
	return ep->name || ep->ip[0];
}

static void endpoint_json(struct op_buf *b, const char *field, const struct endpoint *ep)
{
	bool comma = false;

	op_buf_addf(b, ",\"%s\":{", field);
	if (ep->name) {
		op_buf_adds(b, "\"serviceName\":");
		op_json_str(b, ep->name, strlen(ep->name));
		comma = true;
	}
	if (ep->ip[0]) {
		op_buf_addf(b, "%s\"%s\":\"%s\"", comma ? "," : "", ep->ipv6 ? "ipv6" : "ipv4", ep->ip);
		if (ep->port)
			op_buf_addf(b, ",\"port\":%d", ep->port);
	}
	op_buf_addc(b, '}');
}

/*
 * Zipkin's service name is the resource's service.name; without one, the
 * SDK default resource's: "unknown_service:" and the executable's name.
 */
static void local_endpoint_json(struct op_buf *b, const struct op_resource *res)
{
	const char *name = res ? find_str(&res->attrs, "service.name") : NULL;
	const char *exe = res ? find_str(&res->attrs, "process.executable.name") : NULL;
	char dflt[OP_UNKNOWN_SERVICE_MAX];

	if (!name && exe) {
		snprintf(dflt, sizeof dflt, "unknown_service:%s", exe);
		name = dflt;
	} else if (!name) {
		name = "unknown_service";
	}
	op_buf_adds(b, ",\"localEndpoint\":{\"serviceName\":");
	op_json_str(b, name, strlen(name));
	op_buf_addc(b, '}');
}

/*
 * Whether an attribute stays out of the tags because this encoder owns its
 * key. `error` and otel.status_code come from the status alone: the
 * specification wants no `error` on an OK or UNSET span (Zipkin takes any
 * `error` tag for a failure, even "false") and no status code for UNSET.
 */
static bool tag_reserved(const char *key)
{
	size_t i;

	/*
	 * A key that is not UTF-8 is left out too: repaired, two different
	 * keys could become the same one (each ill-formed byte is U+FFFD).
	 */
	if (!key || !op_utf8_valid(key, strlen(key)))
		return true;
	if (!strcmp(key, TAG_ERROR) || !strcmp(key, TAG_STATUS_CODE) ||
	    !strcmp(key, TAG_DROPPED_ATTRS))
		return true;
	for (i = 0; i < sizeof scope_tags / sizeof *scope_tags; i++)
		if (!strcmp(key, scope_tags[i][0]))
			return true;
	return false;
}

/*
 * ,"key":"value". Tags are strings only: booleans as "true" and "false",
 * integers in decimal, doubles as the shortest decimal that reads back as
 * the same value with a '.' whatever the host's locale (the
 * specification's "en-US culture"), and NaN, Infinity, -Infinity by name.
 */
static void tag_json(struct op_buf *b, const struct op_attr *at)
{
	op_buf_addc(b, ',');
	op_json_str(b, at->key, strlen(at->key));
	op_buf_addc(b, ':');
	switch (at->type) {
	case OP_ATTR_STRING:
		op_json_str(b, at->v.s, at->v.s ? strlen(at->v.s) : 0);
		break;
	case OP_ATTR_BOOL:
		op_buf_adds(b, at->v.b ? "\"true\"" : "\"false\"");
		break;
	case OP_ATTR_INT:
		op_buf_addf(b, "\"%lld\"", (long long)at->v.i);
		break;
	case OP_ATTR_DOUBLE:
		/* op_json_double() quotes the non-finite ones itself. */
		if (isfinite(at->v.d)) {
			op_buf_addc(b, '"');
			op_json_double(b, at->v.d);
			op_buf_addc(b, '"');
		} else {
			op_json_double(b, at->v.d);
		}
		break;
	}
}

static void tags_json(struct op_buf *b, const struct op_span *s, const struct op_resource *res)
{
	uint32_t i;
	size_t k;

	/* The scope first: it is always there, so every later tag starts with ','. */
	op_buf_adds(b, ",\"tags\":{");
	for (k = 0; k < sizeof scope_tags / sizeof *scope_tags; k++)
		op_buf_addf(b, "%s\"%s\":\"%s\"", k ? "," : "", scope_tags[k][0], scope_tags[k][1]);
	for (i = 0; i < s->attrs.n; i++)
		if (!tag_reserved(s->attrs.v[i].key))
			tag_json(b, &s->attrs.v[i]);
	if (s->attrs.dropped)
		op_buf_addf(b, ",\"" TAG_DROPPED_ATTRS "\":\"%u\"", (unsigned)s->attrs.dropped);
	/* The Zipkin document's own status rule, not the generic otel.status_description. */
	if (s->status == OP_STATUS_OK) {
		op_buf_adds(b, ",\"" TAG_STATUS_CODE "\":\"OK\"");
	} else if (s->status == OP_STATUS_ERROR) {
		/* `error` MUST be there for ERROR, "" when there is no description. */
		op_buf_adds(b, ",\"" TAG_STATUS_CODE "\":\"ERROR\",\"" TAG_ERROR "\":");
		op_json_str(b, s->status_message,
			    s->status_message ? strlen(s->status_message) : 0);
	}
	/*
	 * The specification maps no resource attribute but service.name, and
	 * says service.namespace "should be sent as a Zipkin tag"; the
	 * Collector's Zipkin exporter sends every one as a tag. So do we, the
	 * span's own attribute winning over a resource one of the same name.
	 */
	for (i = 0; res && i < res->attrs.n; i++) {
		const struct op_attr *at = &res->attrs.v[i];

		if (!tag_reserved(at->key) && strcmp(at->key, "service.name") &&
		    !find(&s->attrs, at->key))
			tag_json(b, at);
	}
	op_buf_addc(b, '}');
}

static const char *kind_name(enum op_span_kind kind)
{
	switch (kind) {
	case OP_SPAN_KIND_SERVER:
		return "SERVER";
	case OP_SPAN_KIND_CLIENT:
		return "CLIENT";
	case OP_SPAN_KIND_PRODUCER:
		return "PRODUCER";
	case OP_SPAN_KIND_CONSUMER:
		return "CONSUMER";
	default:
		/* INTERNAL: "must be omitted"; Zipkin reads no kind as a local span. */
		return NULL;
	}
}

static void span_json(struct op_buf *b, const struct op_span *s, const struct op_resource *res)
{
	const char *kind = kind_name(s->kind);
	struct endpoint remote;
	int64_t ts, dur;

	op_buf_adds(b, "{\"traceId\":\"");
	op_buf_add_hex(b, s->ctx.trace_id, sizeof s->ctx.trace_id);
	op_buf_adds(b, "\",\"id\":\"");
	op_buf_add_hex(b, s->ctx.span_id, sizeof s->ctx.span_id);
	op_buf_addc(b, '"');
	if (op_span_has_parent(s)) {
		op_buf_adds(b, ",\"parentId\":\"");
		op_buf_add_hex(b, s->parent_span_id, sizeof s->parent_span_id);
		op_buf_addc(b, '"');
	}
	/* zipkin2-api.yaml: "Leave absent if unknown". */
	if (s->name && s->name[0]) {
		op_buf_adds(b, ",\"name\":");
		op_json_str(b, s->name, strlen(s->name));
	}
	if (kind)
		op_buf_addf(b, ",\"kind\":\"%s\"", kind);
	/*
	 * Whole microseconds, cut, as the specification's example has it (1234
	 * ns is 1 us). Zipkin reads a timestamp of 0 as "absent", and wants a
	 * duration of at least 1: "Durations of less than one are rounded up",
	 * which also covers an end before the start after the wall clock was
	 * set back.
	 */
	ts = s->start_ns / 1000;
	dur = (s->end_ns - s->start_ns) / 1000;
	if (dur < 1)
		dur = 1;
	if (ts > 0)
		op_buf_addf(b, ",\"timestamp\":%lld", (long long)ts);
	op_buf_addf(b, ",\"duration\":%lld", (long long)dur);
	local_endpoint_json(b, res);
	if (remote_endpoint(s, &remote))
		endpoint_json(b, "remoteEndpoint", &remote);
	tags_json(b, s, res);
	op_buf_addc(b, '}');
}

/*
 * Neither `debug` nor `shared` is ever set. OpenTelemetry has no debug
 * flag; `shared` marks a server that reports under its client's span ID
 * (B3's single-span model), and an OpenTelemetry server span always has an
 * ID of its own. Nor are there annotations: our spans carry no events.
 */
void op_zipkin_encode(struct op_buf *b, struct op_span *const *spans, size_t n,
		      const struct op_resource *res)
{
	size_t i;

	op_buf_addc(b, '[');
	for (i = 0; i < n; i++) {
		if (i)
			op_buf_addc(b, ',');
		span_json(b, spans[i], res);
	}
	op_buf_addc(b, ']');
}
