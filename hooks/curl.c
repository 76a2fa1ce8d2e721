/*
 * libcurl at its API: a CLIENT span per transfer, easy and multi
 * interfaces alike. libcurl knows what the bytes below cannot tell: the
 * URL with its scheme, the status it parsed, the CURLcode of a failure,
 * and HTTP/2 and HTTP/3 transfers, which are not HTTP/1.x on the wire.
 *
 * Propagation headers go through the application's own CURLOPT_HTTPHEADER:
 * for the transfer, the handle gets a copy of the application's list with
 * our lines appended; afterwards the application's list is set back. The
 * application's list is never touched, so it is intact and reusable.
 *
 * The layers below stay silent for libcurl's connections: sockets and TLS
 * sessions created while a thread is inside libcurl (op_quiet) are not
 * followed. Application callbacks run inside libcurl too; a connection
 * they open there goes untraced, one they opened before is traced as ever.
 *
 * Handles are keyed by address. libcurl forbids using one handle from two
 * threads at once, so a handle's state is only touched by its thread.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "../preload/codeattr.h"
#include "../preload/config.h"
#include "../preload/context.h"
#include "../preload/dso.h"
#include "../preload/propagate.h"
#include "../preload/sdk.h"
#include "../preload/ptrmap.h"
#include "../preload/span.h"
#include "hook.h"

typedef void CURL;
typedef void CURLM;
typedef int CURLcode;
typedef int CURLMcode;

struct curl_slist {
	char *data;
	struct curl_slist *next;
};

struct curl_msg {
	int msg;
	CURL *easy_handle;
	union {
		void *whatever;
		CURLcode result;
	} data;
};

/* The hooks, with libcurl's signatures. */
CURLcode curl_easy_setopt(CURL *h, int opt, ...);
CURLcode curl_easy_perform(CURL *h);
void curl_easy_cleanup(CURL *h);
void curl_easy_reset(CURL *h);
CURL *curl_easy_duphandle(CURL *h);
CURLcode curl_easy_send(CURL *h, const void *buf, size_t n, size_t *sent);
CURLcode curl_easy_recv(CURL *h, void *buf, size_t n, size_t *got);
CURLMcode curl_multi_add_handle(CURLM *m, CURL *h);
CURLMcode curl_multi_remove_handle(CURLM *m, CURL *h);
struct curl_msg *curl_multi_info_read(CURLM *m, int *left);
CURLMcode curl_multi_perform(CURLM *m, int *running);
CURLMcode curl_multi_socket_action(CURLM *m, int s, int mask, int *running);
CURLMcode curl_multi_socket(CURLM *m, int s, int *running);
CURLMcode curl_multi_socket_all(CURLM *m, int *running);
CURLMcode curl_multi_cleanup(CURLM *m);

/* libcurl's values (curl.h, multi.h), part of its ABI. */
#define CURLOPT_URL          10002
#define CURLOPT_HTTPHEADER   10023
#define CURLOPT_USERAGENT    10018
#define CURLOPT_CONNECT_ONLY 141
#define CURLOPT_CURLU        10282
#define CURLINFO_STRING      0x100000
#define CURLINFO_LONG        0x200000
#define CURLINFO_EFFECTIVE_URL    (CURLINFO_STRING + 1)
#define CURLINFO_RESPONSE_CODE    (CURLINFO_LONG + 2)
#define CURLINFO_PRIMARY_IP       (CURLINFO_STRING + 32)
#define CURLINFO_PRIMARY_PORT     (CURLINFO_LONG + 40)
#define CURLINFO_HTTP_VERSION     (CURLINFO_LONG + 46)
#define CURLINFO_EFFECTIVE_METHOD (CURLINFO_STRING + 58)
#define CURLMSG_DONE 1

/* Every hook's function table: the hooked function, then these helpers. */
#define CURL_HELPERS "curl_easy_setopt", "curl_easy_getinfo", "curl_slist_append", \
		     "curl_slist_free_all"
enum { C_REAL, C_SETOPT, C_GETINFO, C_APPEND, C_FREE_ALL };

#define OP_DSO_DEF(var, name) \
	static struct op_dso var = { "libcurl", (const char *const[]){ name, CURL_HELPERS, NULL }, \
				     { NULL }, NULL, 0 }

OP_DSO_DEF(d_setopt, "curl_easy_setopt");
OP_DSO_DEF(d_perform, "curl_easy_perform");
OP_DSO_DEF(d_cleanup, "curl_easy_cleanup");
OP_DSO_DEF(d_reset, "curl_easy_reset");
OP_DSO_DEF(d_duphandle, "curl_easy_duphandle");
OP_DSO_DEF(d_send, "curl_easy_send");
OP_DSO_DEF(d_recv, "curl_easy_recv");
OP_DSO_DEF(d_add, "curl_multi_add_handle");
OP_DSO_DEF(d_remove, "curl_multi_remove_handle");
OP_DSO_DEF(d_info_read, "curl_multi_info_read");
OP_DSO_DEF(d_mperform, "curl_multi_perform");
OP_DSO_DEF(d_socket_action, "curl_multi_socket_action");
OP_DSO_DEF(d_socket, "curl_multi_socket");
OP_DSO_DEF(d_socket_all, "curl_multi_socket_all");
OP_DSO_DEF(d_mcleanup, "curl_multi_cleanup");

#define CALLER __builtin_return_address(0)

typedef CURLcode (*setopt_fn)(CURL *, int, ...);
typedef CURLcode (*getinfo_fn)(CURL *, int, ...);
typedef struct curl_slist *(*append_fn)(struct curl_slist *, const char *);
typedef void (*free_all_fn)(struct curl_slist *);

/* What we know of one easy handle. */
struct easy {
	CURL *h;
	char *url;                 /* CURLOPT_URL, copied */
	char *ua;                  /* CURLOPT_USERAGENT, copied */
	bool url_opaque;           /* CURLOPT_CURLU: the URL is a handle we do not read */
	bool connect_only;
	struct curl_slist *app;    /* the application's CURLOPT_HTTPHEADER */
	struct curl_slist *ours;   /* on the handle while a transfer of ours runs */
	CURLM *multi;              /* the multi handle it was added to, by us seen */
	struct op_span *span;      /* the transfer's, until it ends */
	void *const *fns;          /* the table that set `ours`, to undo it */
};

static struct op_ptrmap easies = OP_PTRMAP_INIT;

static struct easy *easy_get(CURL *h, bool create)
{
	struct easy *e = op_ptrmap_get(&easies, h);

	if (e || !create)
		return e;
	if (!(e = calloc(1, sizeof *e)))
		return NULL;
	e->h = h;
	if (op_ptrmap_put(&easies, h, e) < 0) {
		free(e);
		return NULL;
	}
	return e;
}

/* ---- URLs ------------------------------------------------------------------- */

/* Whether libcurl will speak HTTP for `url` (it guesses a missing scheme from the host). */
static bool is_http(const char *url)
{
	static const char *const other[] = { "ftp.", "dict.", "ldap.", "imap.", "smtp.", "pop3." };
	const char *sep = strstr(url, "://");

	if (sep)
		return (sep - url == 4 && !strncasecmp(url, "http", 4)) ||
		       (sep - url == 5 && !strncasecmp(url, "https", 5));
	for (size_t i = 0; i < sizeof other / sizeof other[0]; i++)
		if (!strncasecmp(url, other[i], strlen(other[i])))
			return false;
	return true;
}

/*
 * url.full (credentials replaced by REDACTED:REDACTED), url.scheme and
 * server.address/port from an absolute URL.
 */
static void url_attributes(struct op_span *s, const char *url)
{
	const char *sep = strstr(url, "://"), *auth, *at;
	char scheme[8], name[256], hostport[300], buf[4096];
	size_t sl, i, n;
	int port;

	if (!sep || (sl = (size_t)(sep - url)) >= sizeof scheme)
		return;
	for (i = 0; i < sl; i++)
		scheme[i] = (char)(url[i] >= 'A' && url[i] <= 'Z' ? url[i] + 32 : url[i]);
	scheme[sl] = '\0';
	op_http_redact_url(url, buf, sizeof buf);
	op_span_set_str(s, "url.full", buf);
	op_span_set_str(s, "url.scheme", scheme);

	auth = sep + 3;
	n = strcspn(auth, "/?#");
	at = memchr(auth, '@', n);
	if (at) {
		n -= (size_t)(at + 1 - auth);
		auth = at + 1;
	}
	if (n == 0 || n >= sizeof hostport)
		return;
	memcpy(hostport, auth, n);
	hostport[n] = '\0';
	op_http_split_host(hostport, name, sizeof name, &port, !strcmp(scheme, "https") ? 443 : 80);
	if (!name[0])
		return;
	op_span_set_str(s, "server.address", name);
	op_span_set_int(s, "server.port", port);
}

/* ---- header lists ------------------------------------------------------------- */

/* The list entry for header `name` ("Name: value", or "Name;" for an empty one). */
static const struct curl_slist *slist_find(const struct curl_slist *l, const char *name, size_t nlen)
{
	for (; l; l = l->next)
		if (l->data && !strncasecmp(l->data, name, nlen) &&
		    (l->data[nlen] == ':' || l->data[nlen] == ';'))
			return l;
	return NULL;
}

static bool slist_has(void *arg, const char *name, size_t nlen)
{
	return slist_find(arg, name, nlen) != NULL;
}

/*
 * The application's list with our header lines: `replace` (its
 * traceparent, forwarded from the request this thread serves) gets our
 * value instead. NULL when out of memory.
 */
static struct curl_slist *build_list(void *const *fns, const struct curl_slist *app,
				     const struct curl_slist *replace, const char *lines,
				     const struct op_span_ctx *ctx)
{
	append_fn append = (append_fn)fns[C_APPEND];
	struct curl_slist *ours = NULL, *grown;
	char line[1024];

	for (const struct curl_slist *l = app; l; l = l->next) {
		const char *d = l->data;

		if (l == replace) {
			memcpy(line, "traceparent: ", 13);
			op_traceparent_format(ctx, line + 13);
			line[13 + OP_TRACEPARENT_LEN] = '\0';
			d = line;
		}
		if (!d)
			continue;
		if (!(grown = append(ours, d)))
			goto fail;
		ours = grown;
	}
	for (const char *p = lines; p && *p;) {
		const char *eol = strstr(p, "\r\n");
		size_t n = eol ? (size_t)(eol - p) : strlen(p);

		if (n && n < sizeof line) {
			memcpy(line, p, n);
			line[n] = '\0';
			if (!(grown = append(ours, line)))
				goto fail;
			ours = grown;
		}
		p += n + (eol ? 2 : 0);
	}
	return ours;
fail:
	((free_all_fn)fns[C_FREE_ALL])(ours);
	return NULL;
}

/* ---- spans --------------------------------------------------------------------- */

/* The User-Agent the request will carry: the application's header wins, as in libcurl. */
static const char *ua_of(const struct easy *e, size_t *n)
{
	const struct curl_slist *l = slist_find(e->app, "user-agent", 10);
	const char *v;

	if (!l)
		v = e->ua;
	else if (l->data[10] == ':')
		v = l->data + 11;
	else
		v = NULL;
	*n = v ? strlen(v) : 0;
	return v ? op_trim_ows(v, n) : NULL;
}

/* OTELPRELOAD_IGNORE_PATHS and OTELPRELOAD_IGNORE_USER_AGENTS, as for any request. */
static bool ignored(const struct easy *e)
{
	const char *sep = strstr(e->url, "://"), *path, *ua;
	size_t plen, ualen;

	path = sep ? sep + 3 : e->url;
	path += strcspn(path, "/?#");
	plen = strcspn(path, "?#");
	if (plen == 0) {
		path = "/";
		plen = 1;
	}
	ua = ua_of(e, &ualen);
	return op_config_ignored(&op_cfg, path, plen, ua, ualen);
}

/*
 * A transfer of `h` starts: its span, and our header lines on the handle.
 * Nothing for a handle whose URL we do not know or that is not HTTP, and
 * no span when the application sends its own traceparent (it traces
 * itself), unless that is the one this thread's request came in with.
 */
static bool begin(void *const *fns, CURL *h, CURLM *multi)
{
	struct easy *e = easy_get(h, false);
	const struct curl_slist *tp, *replace = NULL;
	const struct op_span_ctx *parent;
	const char *inherit = NULL;
	struct curl_slist *ours;
	bool debug = false;
	char *lines;
	uint32_t len = 0;

	if (!e || e->span || !e->url || e->url_opaque || e->connect_only || !is_http(e->url))
		return false;
	op_sdk_init();
	if (!op_sdk_enabled())
		return false;
	if ((tp = slist_find(e->app, "traceparent", 11))) {
		struct op_span_ctx in;
		const char *v = tp->data + 12;
		size_t vlen;

		vlen = strlen(v);
		v = op_trim_ows(v, &vlen);
		if (tp->data[11] != ':' || op_traceparent_parse(v, vlen, &in) != 0 ||
		    !op_context_forwarded(&in))
			return false;
		replace = tp;
	}
	if (ignored(e))
		return false;
	parent = op_context_get(&inherit, &debug);
	e->span = op_span_start("GET", OP_SPAN_KIND_CLIENT, parent);
	if (!e->span)
		return false;
	/* The application's call site (OTELPRELOAD_CODE_ATTRIBUTES): this is its thread, its stack. */
	op_code_capture(e->span);
	e->multi = multi;
	if (!op_cfg.n_propagators && !inherit && !replace)
		return true;
	lines = op_propagation_lines(&e->span->ctx, debug, inherit, slist_has, e->app, &len);
	if (!lines)
		return true;
	ours = build_list(fns, e->app, replace, lines, &e->span->ctx);
	free(lines);
	if (ours && ((setopt_fn)fns[C_SETOPT])(h, CURLOPT_HTTPHEADER, ours) == 0) {
		e->ours = ours;
		e->fns = fns;
	} else if (ours) {
		((free_all_fn)fns[C_FREE_ALL])(ours);
	}
	return true;
}

static const char *curl_code_name(CURLcode c)
{
	switch (c) {
	case 1: return "CURLE_UNSUPPORTED_PROTOCOL";
	case 3: return "CURLE_URL_MALFORMAT";
	case 5: return "CURLE_COULDNT_RESOLVE_PROXY";
	case 6: return "CURLE_COULDNT_RESOLVE_HOST";
	case 7: return "CURLE_COULDNT_CONNECT";
	case 8: return "CURLE_WEIRD_SERVER_REPLY";
	case 16: return "CURLE_HTTP2";
	case 18: return "CURLE_PARTIAL_FILE";
	case 22: return "CURLE_HTTP_RETURNED_ERROR";
	case 23: return "CURLE_WRITE_ERROR";
	case 25: return "CURLE_UPLOAD_FAILED";
	case 26: return "CURLE_READ_ERROR";
	case 27: return "CURLE_OUT_OF_MEMORY";
	case 28: return "CURLE_OPERATION_TIMEDOUT";
	case 35: return "CURLE_SSL_CONNECT_ERROR";
	case 42: return "CURLE_ABORTED_BY_CALLBACK";
	case 47: return "CURLE_TOO_MANY_REDIRECTS";
	case 52: return "CURLE_GOT_NOTHING";
	case 55: return "CURLE_SEND_ERROR";
	case 56: return "CURLE_RECV_ERROR";
	case 58: return "CURLE_SSL_CERTPROBLEM";
	case 59: return "CURLE_SSL_CIPHER";
	case 60: return "CURLE_PEER_FAILED_VERIFICATION";
	case 61: return "CURLE_BAD_CONTENT_ENCODING";
	case 63: return "CURLE_FILESIZE_EXCEEDED";
	case 77: return "CURLE_SSL_CACERT_BADFILE";
	case 92: return "CURLE_HTTP2_STREAM";
	case 95: return "CURLE_HTTP3";
	case 97: return "CURLE_PROXY";
	default: return "_OTHER";
	}
}

static void user_agent(struct op_span *s, const struct easy *e)
{
	size_t n;
	const char *v = ua_of(e, &n);

	if (v && n)
		op_span_set_strn(s, "user_agent.original", v, n);
}

/*
 * The transfer's outcome, from libcurl itself. `has_result`: `result` is
 * the transfer's CURLcode (a transfer removed before it reported one has
 * only what libcurl recorded).
 */
static void end(void *const *fns, CURL *h, struct easy *e, bool has_result, CURLcode result)
{
	getinfo_fn getinfo = (getinfo_fn)fns[C_GETINFO];
	struct op_span *s = e->span;
	char *str = NULL;
	long code = 0, port = 0, version = 0;

	if (!s)
		return;
	e->span = NULL;
	if (getinfo(h, CURLINFO_EFFECTIVE_METHOD, &str) == 0 && str && *str) {
		if (op_http_method_known(str)) {
			op_span_set_name(s, str);
			op_span_set_str(s, "http.request.method", str);
		} else {
			op_span_set_name(s, "HTTP");
			op_span_set_str(s, "http.request.method", "_OTHER");
			op_span_set_str(s, "http.request.method_original", str);
		}
	} else {
		op_span_set_str(s, "http.request.method", "GET");
	}
	str = NULL;
	url_attributes(s, getinfo(h, CURLINFO_EFFECTIVE_URL, &str) == 0 && str ? str : e->url);
	str = NULL;
	if (getinfo(h, CURLINFO_PRIMARY_IP, &str) == 0 && str && *str) {
		op_span_set_str(s, "network.peer.address", str);
		if (getinfo(h, CURLINFO_PRIMARY_PORT, &port) == 0 && port > 0)
			op_span_set_int(s, "network.peer.port", port);
	}
	op_span_set_str(s, "network.protocol.name", "http");
	if (getinfo(h, CURLINFO_HTTP_VERSION, &version) == 0 && version > 0)
		op_span_set_str(s, "network.protocol.version",
				version == 1 ? "1.0" : version == 2 ? "1.1" : version == 3 ? "2" :
				version == 30 ? "3" : "_OTHER");
	user_agent(s, e);
	if (getinfo(h, CURLINFO_RESPONSE_CODE, &code) == 0 && code > 0)
		op_span_set_int(s, "http.response.status_code", code);
	if (code >= 400) {
		char v[24];

		snprintf(v, sizeof v, "%ld", code);
		op_span_set_str(s, "error.type", v);
		op_span_set_status(s, OP_STATUS_ERROR, NULL);
	} else if ((has_result && result != 0) || (!has_result && code <= 0)) {
		op_span_set_str(s, "error.type", has_result ? curl_code_name(result) : "_OTHER");
		op_span_set_status(s, OP_STATUS_ERROR, NULL);
	}
	op_span_end(s);
}

/* The application's header list goes back on the handle; ours goes. */
static void restore(CURL *h, struct easy *e)
{
	e->multi = NULL;
	if (!e->ours)
		return;
	((setopt_fn)e->fns[C_SETOPT])(h, CURLOPT_HTTPHEADER, e->app);
	((free_all_fn)e->fns[C_FREE_ALL])(e->ours);
	e->ours = NULL;
}

static void easy_free(void *const *fns, struct easy *e)
{
	if (e->span)
		op_span_free(e->span);
	if (e->ours)
		((free_all_fn)fns[C_FREE_ALL])(e->ours);
	free(e->url);
	free(e->ua);
	free(e);
}

/* Our own exporter's libcurl, and anything under our guard, goes straight through. */
static bool bypass(void)
{
	return op_guard || op_disabled || op_quiet;
}

/* ---- the easy interface ------------------------------------------------------------ */

/*
 * Variadic: the argument's type follows from the option's number range
 * (libcurl's own rule): long, object pointer, function pointer, curl_off_t.
 * On the ABIs we run on each travels the same way once read as its type.
 */
OP_EXPORT CURLcode curl_easy_setopt(CURL *h, int opt, ...)
{
	void *const *fns = op_dso_fns(&d_setopt, CALLER);
	setopt_fn fn;
	CURLcode r;
	va_list ap;

	if (OP_UNLIKELY(!fns))
		return 2;   /* CURLE_FAILED_INIT */
	fn = (setopt_fn)fns[C_REAL];
	va_start(ap, opt);
	if (opt < 10000) {
		long v = va_arg(ap, long);

		va_end(ap);
		r = fn(h, opt, v);
		if (opt == CURLOPT_CONNECT_ONLY && r == 0 && !bypass()) {
			struct easy *e = easy_get(h, v != 0);

			if (e)
				e->connect_only = v != 0;
		}
		return r;
	}
	if (opt >= 20000 && opt < 30000) {
		void (*v)(void) = va_arg(ap, void (*)(void));

		va_end(ap);
		return fn(h, opt, v);
	}
	if (opt >= 30000 && opt < 40000) {
		long long v = va_arg(ap, long long);

		va_end(ap);
		return fn(h, opt, v);
	}
	{
		void *v = va_arg(ap, void *);
		struct easy *e;

		va_end(ap);
		r = fn(h, opt, v);
		if (r != 0 || bypass() ||
		    (opt != CURLOPT_URL && opt != CURLOPT_HTTPHEADER && opt != CURLOPT_CURLU &&
		     opt != CURLOPT_USERAGENT))
			return r;
		if (!(e = easy_get(h, v != NULL)))
			return r;
		if (opt == CURLOPT_URL) {
			free(e->url);
			e->url = v ? strdup(v) : NULL;
		} else if (opt == CURLOPT_USERAGENT) {
			free(e->ua);
			e->ua = v ? strdup(v) : NULL;
		} else if (opt == CURLOPT_CURLU) {
			e->url_opaque = v != NULL;
		} else {
			e->app = v;
		}
		return r;
	}
}

OP_EXPORT CURLcode curl_easy_perform(CURL *h)
{
	void *const *fns = op_dso_fns(&d_perform, CALLER);
	CURLcode (*fn)(CURL *);
	struct easy *e;
	CURLcode r;
	int err;

	if (OP_UNLIKELY(!fns))
		return 2;
	fn = (CURLcode (*)(CURL *))fns[C_REAL];
	if (bypass())
		return fn(h);
	begin(fns, h, NULL);
	op_quiet++;
	r = fn(h);
	op_quiet--;
	err = errno;
	if ((e = easy_get(h, false))) {
		end(fns, h, e, true, r);
		restore(h, e);
	}
	errno = err;
	return r;
}

OP_EXPORT void curl_easy_cleanup(CURL *h)
{
	void *const *fns = op_dso_fns(&d_cleanup, CALLER);
	struct easy *e = NULL;

	if (OP_UNLIKELY(!fns))
		return;
	if (h && !op_guard && !op_disabled && (e = op_ptrmap_take(&easies, h)))
		end(fns, h, e, false, 0);
	op_quiet++;
	((void (*)(CURL *))fns[C_REAL])(h);
	op_quiet--;
	/* The handle is gone, and with it its use of our list. */
	if (e)
		easy_free(fns, e);
}

OP_EXPORT void curl_easy_reset(CURL *h)
{
	void *const *fns = op_dso_fns(&d_reset, CALLER);
	struct easy *e;

	if (OP_UNLIKELY(!fns))
		return;
	((void (*)(CURL *))fns[C_REAL])(h);
	/* Every option is back to its default: the handle no longer points at our list. */
	if (!op_guard && !op_disabled && (e = op_ptrmap_take(&easies, h)))
		easy_free(fns, e);
}

OP_EXPORT CURL *curl_easy_duphandle(CURL *h)
{
	void *const *fns = op_dso_fns(&d_duphandle, CALLER);
	struct easy *e, *d;
	CURL *dup;

	if (OP_UNLIKELY(!fns))
		return NULL;
	dup = ((CURL *(*)(CURL *))fns[C_REAL])(h);
	if (!dup || bypass() || !(e = easy_get(h, false)) || !(d = easy_get(dup, true)))
		return dup;
	d->url = e->url ? strdup(e->url) : NULL;
	d->ua = e->ua ? strdup(e->ua) : NULL;
	d->url_opaque = e->url_opaque;
	d->connect_only = e->connect_only;
	d->app = e->app;
	/* Copied mid-transfer, the copy holds our list, which goes with the transfer. */
	if (e->ours)
		((setopt_fn)fns[C_SETOPT])(dup, CURLOPT_HTTPHEADER, e->app);
	return dup;
}

OP_EXPORT CURLcode curl_easy_send(CURL *h, const void *buf, size_t n, size_t *sent)
{
	void *const *fns = op_dso_fns(&d_send, CALLER);
	CURLcode r;

	if (OP_UNLIKELY(!fns))
		return 2;
	op_quiet++;
	r = ((CURLcode (*)(CURL *, const void *, size_t, size_t *))fns[C_REAL])(h, buf, n, sent);
	op_quiet--;
	return r;
}

OP_EXPORT CURLcode curl_easy_recv(CURL *h, void *buf, size_t n, size_t *got)
{
	void *const *fns = op_dso_fns(&d_recv, CALLER);
	CURLcode r;

	if (OP_UNLIKELY(!fns))
		return 2;
	op_quiet++;
	r = ((CURLcode (*)(CURL *, void *, size_t, size_t *))fns[C_REAL])(h, buf, n, got);
	op_quiet--;
	return r;
}

/* ---- the multi interface --------------------------------------------------------------- */

/*
 * The span starts when the transfer is handed to libcurl; our list must be
 * on the handle before libcurl may start sending.
 */
OP_EXPORT CURLMcode curl_multi_add_handle(CURLM *m, CURL *h)
{
	void *const *fns = op_dso_fns(&d_add, CALLER);
	CURLMcode r;
	bool started;
	int err;

	if (OP_UNLIKELY(!fns))
		return 1;   /* CURLM_BAD_HANDLE */
	if (bypass())
		return ((CURLMcode (*)(CURLM *, CURL *))fns[C_REAL])(m, h);
	started = begin(fns, h, m);
	op_quiet++;
	r = ((CURLMcode (*)(CURLM *, CURL *))fns[C_REAL])(m, h);
	op_quiet--;
	err = errno;
	if (r != 0 && started) {
		/* Not added (added already, a bad handle): nothing was sent. */
		struct easy *e = easy_get(h, false);

		if (e) {
			op_span_free(e->span);
			e->span = NULL;
			restore(h, e);
		}
	}
	errno = err;
	return r;
}

OP_EXPORT CURLMcode curl_multi_remove_handle(CURLM *m, CURL *h)
{
	void *const *fns = op_dso_fns(&d_remove, CALLER);
	struct easy *e;
	CURLMcode r;
	int err;

	if (OP_UNLIKELY(!fns))
		return 1;
	op_quiet++;
	r = ((CURLMcode (*)(CURLM *, CURL *))fns[C_REAL])(m, h);
	op_quiet--;
	err = errno;
	/* Inside libcurl this is curl_easy_perform's own multi handle letting go. */
	if (!bypass() && (e = easy_get(h, false))) {
		end(fns, h, e, false, 0);
		restore(h, e);
	}
	errno = err;
	return r;
}

/* A finished transfer's message carries its CURLcode: the span ends there. */
OP_EXPORT struct curl_msg *curl_multi_info_read(CURLM *m, int *left)
{
	void *const *fns = op_dso_fns(&d_info_read, CALLER);
	struct curl_msg *msg;
	struct easy *e;
	int err;

	if (OP_UNLIKELY(!fns))
		return NULL;
	msg = ((struct curl_msg *(*)(CURLM *, int *))fns[C_REAL])(m, left);
	err = errno;
	if (msg && msg->msg == CURLMSG_DONE && !bypass() && (e = easy_get(msg->easy_handle, false)))
		end(fns, msg->easy_handle, e, true, msg->data.result);
	errno = err;
	return msg;
}

/* The calls in which libcurl moves bytes: what they open is libcurl's. */
#define QUIET_CALL(fns, type, ...) \
	do { \
		CURLMcode r_; \
		if (OP_UNLIKELY(!(fns))) \
			return 1; \
		op_quiet++; \
		r_ = ((type)(fns)[C_REAL])(__VA_ARGS__); \
		op_quiet--; \
		return r_; \
	} while (0)

OP_EXPORT CURLMcode curl_multi_perform(CURLM *m, int *running)
{
	void *const *fns = op_dso_fns(&d_mperform, CALLER);

	QUIET_CALL(fns, CURLMcode (*)(CURLM *, int *), m, running);
}

OP_EXPORT CURLMcode curl_multi_socket_action(CURLM *m, int s, int mask, int *running)
{
	void *const *fns = op_dso_fns(&d_socket_action, CALLER);

	QUIET_CALL(fns, CURLMcode (*)(CURLM *, int, int, int *), m, s, mask, running);
}

OP_EXPORT CURLMcode curl_multi_socket(CURLM *m, int s, int *running)
{
	void *const *fns = op_dso_fns(&d_socket, CALLER);

	QUIET_CALL(fns, CURLMcode (*)(CURLM *, int, int *), m, s, running);
}

OP_EXPORT CURLMcode curl_multi_socket_all(CURLM *m, int *running)
{
	void *const *fns = op_dso_fns(&d_socket_all, CALLER);

	QUIET_CALL(fns, CURLMcode (*)(CURLM *, int *), m, running);
}

static bool of_multi(void *value, void *arg)
{
	return ((struct easy *)value)->multi == arg;
}

/*
 * The handles still added are detached, not freed: their transfers end
 * here, and our lists come off them once libcurl no longer uses them.
 */
OP_EXPORT CURLMcode curl_multi_cleanup(CURLM *m)
{
	void *const *fns = op_dso_fns(&d_mcleanup, CALLER);
	CURLMcode r;
	int err;

	if (OP_UNLIKELY(!fns))
		return 1;
	op_quiet++;
	r = ((CURLMcode (*)(CURLM *))fns[C_REAL])(m);
	op_quiet--;
	err = errno;
	if (m && !op_guard && !op_disabled) {
		struct easy *batch[64];
		size_t n;

		/* Taken out and put back: the map's lock is never held across libcurl calls. */
		do {
			n = op_ptrmap_take_if(&easies, of_multi, m, (void **)batch, 64);
			for (size_t i = 0; i < n; i++) {
				struct easy *e = batch[i];

				end(fns, e->h, e, false, 0);
				restore(e->h, e);
				e->multi = NULL;
				if (op_ptrmap_put(&easies, e->h, e) < 0)
					easy_free(fns, e);
			}
		} while (n == 64);
	}
	errno = err;
	return r;
}

void op_curl_atfork_prepare(void)
{
	op_ptrmap_atfork_prepare(&easies);
}

void op_curl_atfork_parent(void)
{
	op_ptrmap_atfork_parent(&easies);
}

/* The parent's transfers are the parent's to report: the child forgets their spans. */
void op_curl_atfork_child(void)
{
	op_ptrmap_atfork_child(&easies);
	for (size_t i = 0; i < easies.cap; i++) {
		struct easy *e = easies.slots[i].key ? easies.slots[i].value : NULL;

		if (e && e->span) {
			op_span_free(e->span);
			e->span = NULL;
		}
	}
}
