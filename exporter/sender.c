#include <dlfcn.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>
#include <sys/socket.h>

#include <curl/curl.h>

#include "opentelemetry/proto/collector/trace/v1/trace_service.pb-c.h"

#include "../preload/op.h"
#include "json.h"
#include "sender.h"
#include "sigpipe.h"

/* Used when the configuration carries no URL (the OTLP/HTTP default). */
#define OP_OTLP_DEFAULT_URL "http://localhost:4318/v1/traces"

#define OP_PROTOBUF_TYPE "application/x-protobuf"

/*
 * Most of an answer we keep. A success answer is empty or a partial
 * success of a few hundred bytes; anything past this is read and thrown
 * away (aborting the read would cost us the kept-alive connection).
 */
#define OP_HTTP_RESP_MAX (64 * 1024)

/*
 * Sockets tracked for fork(). Exports are sequential and reuse one
 * connection; a connection attempt may briefly hold two sockets (happy
 * eyeballs). A socket past this bound is still used, only not closed in a
 * forked child.
 */
#define OP_HTTP_MAX_SOCKETS 8

/*
 * OpenSSL's OPENSSL_INIT_NO_ATEXIT, the same value in 1.1.1 and 3.x
 * (crypto.h). We do not build against OpenSSL headers: libcurl brings
 * whichever libcrypto the system has.
 */
#define OP_OPENSSL_INIT_NO_ATEXIT 0x00080000UL

struct op_sender {
	/*
	 * Connections, DNS answers and TLS sessions, kept across exports. They
	 * live in a share rather than in one long-lived easy handle because an
	 * easy handle keeps an internal multi handle whose wakeup socketpair
	 * libcurl creates without close-on-exec (7.88 does): with a fresh easy
	 * handle per export those two descriptors exist only while an export
	 * runs, instead of leaking into every program the host executes.
	 */
	CURLSH *share;
	struct curl_slist *headers;
	char *url;
	char *shown_url;       /* scheme://host:port/path: no credentials, no query */
	int64_t timeout_ms;    /* <= 0: bounded by the deadline only */

	/*
	 * The process whose connections `share` holds. A forked child shares
	 * the parent's sockets and TLS state and must never write to them.
	 */
	pid_t pid;
	int socks[OP_HTTP_MAX_SOCKETS];
	unsigned n_socks;

	struct op_buf resp;
	bool resp_truncated;
	char err[CURL_ERROR_SIZE];
};

/*
 * OpenSSL registers OPENSSL_cleanup() with atexit() the first time it is
 * initialised. The core flushes the last spans from its own atexit handler,
 * which was registered earlier and so runs later: by then libcrypto would be
 * torn down under our TLS connection. Asking for no atexit handler before
 * libcurl initialises OpenSSL prevents that. It only works when we are
 * first; if the host initialised OpenSSL already, its handler stays (and
 * the exit flush of an https endpoint may fail, which loses spans, nothing
 * more). RTLD_NOLOAD: we only want the libcrypto libcurl already pulled in,
 * never to load one.
 */
static void openssl_no_atexit(void)
{
	static const char *const libs[] = { "libcrypto.so.3", "libcrypto.so.1.1" };
	int (*init)(uint64_t opts, const void *settings);
	unsigned i;
	void *lib;

	for (i = 0; i < sizeof libs / sizeof libs[0]; i++) {
		lib = dlopen(libs[i], RTLD_NOLOAD | RTLD_LAZY);
		if (!lib)
			continue;
		init = (int (*)(uint64_t, const void *))dlsym(lib, "OPENSSL_init_crypto");
		if (init && !init(OP_OPENSSL_INIT_NO_ATEXIT, NULL))
			op_debug("OPENSSL_init_crypto(NO_ATEXIT) failed in %s", libs[i]);
		dlclose(lib);
	}
}

static pthread_once_t global_once = PTHREAD_ONCE_INIT;
static CURLcode global_rc = CURLE_FAILED_INIT;

/*
 * Once per process and never undone: curl_global_cleanup() at unload or
 * exit could pull OpenSSL from under a host that uses the same libcurl.
 * curl_global_init() is thread-safe from libcurl 7.84; older versions race
 * with a host thread initialising libcurl at the same moment.
 */
static void global_init(void)
{
	openssl_no_atexit();
	global_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

/*
 * Our sockets are close-on-exec: a host that forks and execs must not pass
 * our collector connection to the new program.
 */
static curl_socket_t open_socket(void *arg, curlsocktype purpose,
				 struct curl_sockaddr *addr)
{
	struct op_sender *h = arg;
	int fd;

	fd = socket(addr->family, addr->socktype | SOCK_CLOEXEC, addr->protocol);
	if (fd < 0)
		return CURL_SOCKET_BAD;
	if (h->n_socks < OP_HTTP_MAX_SOCKETS)
		h->socks[h->n_socks++] = fd;
	return fd;
}

static int close_socket(void *arg, curl_socket_t fd)
{
	struct op_sender *h = arg;
	unsigned i;

	for (i = 0; i < h->n_socks; i++) {
		if (h->socks[i] == fd) {
			h->socks[i] = h->socks[--h->n_socks];
			break;
		}
	}
	return close(fd);
}

static size_t on_body(char *p, size_t size, size_t nmemb, void *arg)
{
	struct op_sender *h = arg;
	size_t len = size * nmemb;

	if (h->resp_truncated || len > OP_HTTP_RESP_MAX - h->resp.len)
		h->resp_truncated = true;
	else
		op_buf_add(&h->resp, p, len);
	return len;
}

/* RFC 9110 token characters, the only ones allowed in a header name. */
static bool is_token(const char *s)
{
	if (!*s)
		return false;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		      (*s >= '0' && *s <= '9') || strchr("!#$%&'*+-.^_`|~", *s)))
			return false;
	return true;
}

/* Header values may hold tabs but no other control character (no CR/LF). */
static bool is_field_value(const char *s)
{
	for (; *s; s++)
		if (((unsigned char)*s < 0x20 && *s != '\t') || *s == 0x7f)
			return false;
	return true;
}

/*
 * The configured headers, then ours, except those a configured header
 * already names (the user's choice wins). "Expect:" stops libcurl from sending
 * "Expect: 100-continue" for bodies over 1 KiB, which costs a round trip,
 * or a one-second stall with receivers that do not answer 100.
 */
static struct curl_slist *build_headers(const struct op_sender_opts *o)
{
	struct curl_slist *list = NULL, *grown;
	struct op_buf line = OP_BUF_INIT;
	bool own_type = true, own_agent = true;
	unsigned i;

	for (i = 0; i < o->n_headers; i++) {
		const struct op_header *hd = &o->headers[i];

		if (!hd->name || !is_token(hd->name)) {
			op_warn("OTEL_EXPORTER_OTLP_HEADERS has a header name that is not an HTTP token; ignoring it");
			continue;
		}
		/* The value may be a secret: name it, never print it. */
		if (hd->value && !is_field_value(hd->value)) {
			op_warn("OTEL_EXPORTER_OTLP_HEADERS: the value of %s has control characters; ignoring it",
				hd->name);
			continue;
		}
		if (!strcasecmp(hd->name, "content-type"))
			own_type = false;
		else if (!strcasecmp(hd->name, "user-agent"))
			own_agent = false;
		op_buf_reset(&line);
		/* "Name:" with nothing after it tells libcurl to remove a header; "Name;" sends it empty. */
		if (hd->value && *hd->value)
			op_buf_addf(&line, "%s: %s", hd->name, hd->value);
		else
			op_buf_addf(&line, "%s;", hd->name);
		if (line.err || !(grown = curl_slist_append(list, line.p)))
			goto fail;
		list = grown;
	}
	if (own_type) {
		op_buf_reset(&line);
		op_buf_addf(&line, "Content-Type: %s", o->content_type);
		if (line.err || !(grown = curl_slist_append(list, line.p)))
			goto fail;
		list = grown;
	}
	if (own_agent) {
		if (!(grown = curl_slist_append(list, "User-Agent: otelpreload/" OP_VERSION)))
			goto fail;
		list = grown;
	}
	if (!(grown = curl_slist_append(list, "Expect:")))
		goto fail;
	list = grown;
	op_buf_free(&line);
	return list;
fail:
	curl_slist_free_all(list);
	op_buf_free(&line);
	return NULL;
}

/*
 * The URL as we may print it: libcurl's error messages name the host, and
 * ours name the endpoint, but the URL itself may carry user:password or a
 * token in the query.
 */
static char *shown_url(const char *url)
{
	char *scheme = NULL, *host = NULL, *port = NULL, *path = NULL, *ret = NULL;
	struct op_buf b = OP_BUF_INIT;
	CURLU *u = curl_url();

	if (!u || curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK)
		goto out;
	if (curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_PORT, &port, CURLU_DEFAULT_PORT) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_PATH, &path, 0) != CURLUE_OK)
		goto out;
	op_buf_addf(&b, "%s://%s:%s%s", scheme, host, port, path);
	ret = op_buf_detach(&b);
out:
	curl_free(scheme);
	curl_free(host);
	curl_free(port);
	curl_free(path);
	curl_url_cleanup(u);
	return ret;
}

/*
 * The share for this process. Everything in it is used by one thread at a
 * time (plugin.h), so it needs no lock callbacks. A libcurl older than
 * 7.57 cannot share connections: setting that fails and every export then
 * opens its own connection, which is slower but correct.
 */
static int share_setup(struct op_sender *h)
{
	h->share = curl_share_init();
	if (!h->share)
		return -1;
	if (curl_share_setopt(h->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_CONNECT) != CURLSHE_OK)
		op_debug("this libcurl cannot keep connections between exports");
	(void)curl_share_setopt(h->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS);
	(void)curl_share_setopt(h->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_SSL_SESSION);
	h->pid = getpid();
	return 0;
}

/* An easy handle for one export; the caller sets the timeout and body. */
static CURL *easy_new(struct op_sender *h)
{
	CURL *c = curl_easy_init();
	bool bad = false;

	if (!c)
		return NULL;
	bad |= curl_easy_setopt(c, CURLOPT_SHARE, h->share) != CURLE_OK;
	bad |= curl_easy_setopt(c, CURLOPT_URL, h->url) != CURLE_OK;
	bad |= curl_easy_setopt(c, CURLOPT_HTTPHEADER, h->headers) != CURLE_OK;
	bad |= curl_easy_setopt(c, CURLOPT_POST, 1L) != CURLE_OK;
	/*
	 * No SIGALRM for resolver timeouts and no process-wide SIGPIPE
	 * disposition changes: signals are the host's (see sigpipe.h).
	 */
	bad |= curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L) != CURLE_OK;
	bad |= curl_easy_setopt(c, CURLOPT_OPENSOCKETFUNCTION, open_socket) != CURLE_OK;
	bad |= curl_easy_setopt(c, CURLOPT_OPENSOCKETDATA, h) != CURLE_OK;
	bad |= curl_easy_setopt(c, CURLOPT_CLOSESOCKETFUNCTION, close_socket) != CURLE_OK;
	bad |= curl_easy_setopt(c, CURLOPT_CLOSESOCKETDATA, h) != CURLE_OK;
	bad |= curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body) != CURLE_OK;
	bad |= curl_easy_setopt(c, CURLOPT_WRITEDATA, h) != CURLE_OK;
	bad |= curl_easy_setopt(c, CURLOPT_ERRORBUFFER, h->err) != CURLE_OK;
	/* A 4xx/5xx is an answer we read ourselves, not a transfer error. */
	bad |= curl_easy_setopt(c, CURLOPT_FAILONERROR, 0L) != CURLE_OK;
	if (bad) {
		curl_easy_cleanup(c);
		return NULL;
	}
	/* A mistyped endpoint must not make us read file:// or speak FTP. */
#if LIBCURL_VERSION_NUM >= 0x075500
	(void)curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
#else
	(void)curl_easy_setopt(c, CURLOPT_PROTOCOLS, (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
#endif
	return c;
}

/*
 * In a forked child: let go of the parent's connections without touching
 * them. Closing our descriptors only drops the child's references; a
 * curl_share_cleanup() would also send a TLS close_notify over a socket the
 * parent is still using, so the old share is leaked instead (a few
 * kilobytes, once per child).
 */
static void abandon(struct op_sender *h)
{
	unsigned i;

	for (i = 0; i < h->n_socks; i++)
		close(h->socks[i]);
	h->n_socks = 0;
	h->share = NULL;
}

struct op_sender *op_sender_create(const struct op_sender_opts *o)
{
	struct op_sender *h;

	pthread_once(&global_once, global_init);
	if (global_rc != CURLE_OK) {
		op_warn("cannot initialise libcurl: %s; %s export is off",
			curl_easy_strerror(global_rc), o->what);
		return NULL;
	}
	h = calloc(1, sizeof *h);
	if (!h)
		goto oom;
	h->url = strdup(o->url);
	if (!h->url)
		goto oom;
	h->shown_url = shown_url(h->url);
	if (!h->shown_url) {
		op_warn("the %s endpoint is not a valid URL; %s export is off", o->what, o->what);
		goto fail;
	}
	/* libcurl lower-cases the scheme in shown_url(). */
	if (strncmp(h->shown_url, "http://", 7) && strncmp(h->shown_url, "https://", 8)) {
		op_warn("the %s endpoint %s is not http:// or https://; %s export is off",
			o->what, h->shown_url, o->what);
		goto fail;
	}
	h->timeout_ms = o->timeout_ms;
	h->headers = build_headers(o);
	if (!h->headers || share_setup(h))
		goto oom;
	return h;
oom:
	op_warn("cannot set up %s export: out of memory", o->what);
fail:
	if (h) {
		curl_slist_free_all(h->headers);
		free(h->shown_url);
		free(h->url);
		free(h);
	}
	return NULL;
}

/*
 * A 2xx answer may still report spans the collector dropped (OTLP partial
 * success). They must not be sent again, so this is information only.
 */
static void report_partial_success(struct op_sender *h, CURL *c, size_t n_spans)
{
	Opentelemetry__Proto__Collector__Trace__V1__ExportTraceServiceResponse *r;
	const char *type = NULL;
	struct op_buf msg = OP_BUF_INIT;

	if (!h->resp.len || h->resp_truncated)
		return;
	curl_easy_getinfo(c, CURLINFO_CONTENT_TYPE, &type);
	if (type && strncasecmp(type, OP_PROTOBUF_TYPE, sizeof OP_PROTOBUF_TYPE - 1))
		return;
	r = opentelemetry__proto__collector__trace__v1__export_trace_service_response__unpack(
		NULL, h->resp.len, (const uint8_t *)h->resp.p);
	if (!r) {
		op_debug("%s: cannot decode the %zu-byte answer", h->shown_url, h->resp.len);
		return;
	}
	if (r->partial_success && (r->partial_success->rejected_spans ||
				   *r->partial_success->error_message)) {
		/* The collector's text, quoted and escaped: it is not ours to trust. */
		op_json_str(&msg, r->partial_success->error_message,
			    strlen(r->partial_success->error_message));
		op_debug("%s rejected %lld of %zu spans: %s", h->shown_url,
			 (long long)r->partial_success->rejected_spans, n_spans,
			 msg.err ? "" : msg.p);
		op_buf_free(&msg);
	}
	opentelemetry__proto__collector__trace__v1__export_trace_service_response__free_unpacked(r, NULL);
}

int op_sender_send(struct op_sender *h, const uint8_t *body, size_t len, size_t n_spans,
		   int64_t deadline_mono_ns, unsigned flags)
{
	struct op_sigpipe st;
	int64_t start = op_mono_ns(), timeout_ms;
	long status = 0;
	CURLcode rc;
	CURL *c;
	int ret = -1;

	if (h->pid != getpid()) {
		abandon(h);
		if (share_setup(h)) {
			op_info("cannot export %zu spans: out of memory", n_spans);
			return -1;
		}
	}
	c = easy_new(h);
	if (!c) {
		op_info("cannot export %zu spans: out of memory", n_spans);
		return -1;
	}

	timeout_ms = (deadline_mono_ns - start) / 1000000;
	if (h->timeout_ms > 0 && h->timeout_ms < timeout_ms)
		timeout_ms = h->timeout_ms;
	if (timeout_ms < 1)
		timeout_ms = 1;

	op_buf_reset(&h->resp);
	h->resp_truncated = false;
	h->err[0] = '\0';
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)timeout_ms);
	curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
	curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);

	/*
	 * With CURLOPT_NOSIGNAL libcurl no longer ignores SIGPIPE around its
	 * writes, and a TLS library may write with plain send().
	 */
	op_sigpipe_block(&st);
	rc = curl_easy_perform(c);
	op_sigpipe_restore(&st);

	if (rc != CURLE_OK) {
		op_info("cannot export %zu spans to %s: %s", n_spans, h->shown_url,
			h->err[0] ? h->err : curl_easy_strerror(rc));
		goto out;
	}
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
	if (status < 200 || status > 299) {
		op_info("cannot export %zu spans: %s answered HTTP %ld", n_spans,
			h->shown_url, status);
		goto out;
	}
	report_partial_success(h, c, n_spans);
	op_debug("exported %zu spans (%zu bytes) to %s in %lld ms", n_spans, len,
		 h->shown_url, (long long)((op_mono_ns() - start) / 1000000));
	ret = 0;
out:
	/* The connection stays in the share; only the handle goes. */
	curl_easy_cleanup(c);
	return ret;
}

void op_sender_destroy(struct op_sender *h)
{
	if (!h)
		return;
	if (h->pid != getpid())
		abandon(h);
	else
		curl_share_cleanup(h->share);
	curl_slist_free_all(h->headers);
	op_buf_free(&h->resp);
	free(h->shown_url);
	free(h->url);
	free(h);
}
