#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <curl/curl.h>
#include <zlib.h>

#include "opentelemetry/proto/collector/trace/v1/trace_service.pb-c.h"

#include "../preload/op.h"
#include "json.h"
#include "grpc.h"
#include "retry.h"
#include "sender.h"
#include "sigpipe.h"

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

/*
 * A socket of ours, with the identity of what it refers to: a program that
 * closes every descriptor (daemons do) closes ours too, and the number may
 * then be reused for a socket or file of its own, which libcurl's kept
 * connection must never write to or close.
 */
struct op_sock {
	int fd;
	dev_t dev;
	ino_t ino;
};

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
	const char *what;      /* "OTLP", "Zipkin" (static) */
	int64_t timeout_ms;    /* one export, retries included */
	bool grpc, gzip, https;
	enum op_answer answer;
	const _Atomic bool *exiting;
	char *ca_file, *cert_file, *key_file;

	/*
	 * The process whose connections `share` holds. A forked child shares
	 * the parent's sockets and TLS state and must never write to them.
	 */
	pid_t pid;
	struct op_sock socks[OP_HTTP_MAX_SOCKETS];
	unsigned n_socks;

	/* The body as sent: compressed and/or framed when asked; reused. */
	struct op_buf out;

	/* The answer to the current attempt. */
	struct op_buf resp;
	bool resp_truncated;
	char err[CURL_ERROR_SIZE];
	int64_t retry_after_ms;  /* -1: none */
	int grpc_status;         /* -1: no grpc-status seen */
	bool retry_info;         /* grpc-status-details-bin held a RetryInfo */
	int64_t retry_info_ms;   /* its delay, -1: none */
	char grpc_message[128];  /* percent-decoded, for debug lines */

	uint32_t rnd;            /* backoff jitter state */
};

#ifndef OP_BUNDLED_DEPS
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
#endif

#ifdef OP_BUNDLED_DEPS
/*
 * The bundled libcurl has no CA bundle compiled in, since the image it runs
 * in is not the one it was built on: the one to trust is the image's,
 * wherever its distribution keeps it. SSL_CERT_FILE (OpenSSL's variable,
 * which many images set) comes first.
 */
static char *system_ca_bundle(void)
{
	static const char *const paths[] = {
		"/etc/ssl/certs/ca-certificates.crt",                /* Debian, Ubuntu, Alpine */
		"/etc/pki/tls/certs/ca-bundle.crt",                  /* RHEL, Fedora, UBI */
		"/etc/pki/ca-trust/extracted/pem/tls-ca-bundle.pem", /* RHEL 7 and later */
		"/etc/ssl/ca-bundle.pem",                            /* SUSE */
		"/etc/ssl/cert.pem",                                 /* Alpine, BSDs */
	};
	const char *env = getenv("SSL_CERT_FILE");
	unsigned i;

	if (env && *env)
		return strdup(env);
	for (i = 0; i < sizeof paths / sizeof paths[0]; i++)
		if (!access(paths[i], R_OK))
			return strdup(paths[i]);
	return NULL;
}
#endif

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
#ifndef OP_BUNDLED_DEPS
	/* A bundled libcurl has its own TLS: the host's OpenSSL is not ours. */
	openssl_no_atexit();
#endif
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
	struct stat st;
	int fd;

	(void)purpose;
	fd = socket(addr->family, addr->socktype | SOCK_CLOEXEC, addr->protocol);
	if (fd < 0)
		return CURL_SOCKET_BAD;
	if (h->n_socks < OP_HTTP_MAX_SOCKETS && fstat(fd, &st) == 0)
		h->socks[h->n_socks++] = (struct op_sock){ fd, st.st_dev, st.st_ino };
	return fd;
}

/* Whether `s` still names the socket we opened. */
static bool sock_ours(const struct op_sock *s)
{
	struct stat st;

	return fstat(s->fd, &st) == 0 && st.st_dev == s->dev && st.st_ino == s->ino;
}

static int close_socket(void *arg, curl_socket_t fd)
{
	struct op_sender *h = arg;
	unsigned i;

	for (i = 0; i < h->n_socks; i++) {
		if (h->socks[i].fd == fd) {
			bool ours = sock_ours(&h->socks[i]);

			h->socks[i] = h->socks[--h->n_socks];
			/* The program closed it and reused the number: not ours to close. */
			if (!ours)
				return 0;
			break;
		}
	}
	return close(fd);
}

/* True when the program closed one of our sockets since we opened it. */
static bool lost_socket(const struct op_sender *h)
{
	for (unsigned i = 0; i < h->n_socks; i++)
		if (!sock_ours(&h->socks[i]))
			return true;
	return false;
}

static int hexval(char c)
{
	return c >= '0' && c <= '9' ? c - '0' :
	       c >= 'a' && c <= 'f' ? c - 'a' + 10 :
	       c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

/* grpc-message is percent-encoded; kept (cut) for debug lines. */
static void set_grpc_message(struct op_sender *h, const char *v, size_t len)
{
	size_t o = 0;

	for (size_t i = 0; i < len && o + 1 < sizeof h->grpc_message; i++) {
		if (v[i] == '%' && i + 2 < len && hexval(v[i + 1]) >= 0 && hexval(v[i + 2]) >= 0) {
			h->grpc_message[o++] = (char)(hexval(v[i + 1]) << 4 | hexval(v[i + 2]));
			i += 2;
		} else {
			h->grpc_message[o++] = v[i];
		}
	}
	h->grpc_message[o] = '\0';
}

/* Clears what the previous answer (or an interim 1xx) said. */
static void answer_reset(struct op_sender *h)
{
	h->retry_after_ms = -1;
	h->grpc_status = -1;
	h->retry_info = false;
	h->retry_info_ms = -1;
	h->grpc_message[0] = '\0';
}

/*
 * Header lines of the answer, and with HTTP/2 its trailers, which is where
 * gRPC puts grpc-status. `name` is compared without case; the value is
 * trimmed.
 */
static size_t on_header(char *p, size_t size, size_t nmemb, void *arg)
{
	struct op_sender *h = arg;
	size_t len = size * nmemb, nlen;
	const char *colon, *v;
	size_t vlen;

	if (len >= 5 && !memcmp(p, "HTTP/", 5)) {
		answer_reset(h);
		return len;
	}
	colon = memchr(p, ':', len);
	if (!colon)
		return len;
	nlen = (size_t)(colon - p);
	v = colon + 1;
	vlen = len - nlen - 1;
	while (vlen && (*v == ' ' || *v == '\t'))
		v++, vlen--;
	while (vlen && (v[vlen - 1] == '\r' || v[vlen - 1] == '\n' || v[vlen - 1] == ' ' ||
			v[vlen - 1] == '\t'))
		vlen--;
#define IS(n) (nlen == sizeof(n) - 1 && !strncasecmp(p, n, nlen))
	if (IS("retry-after")) {
		h->retry_after_ms = op_retry_after_ms(v, vlen, op_now_ns() / 1000000000);
	} else if (h->grpc && IS("grpc-status")) {
		int code = 0;
		size_t i;

		for (i = 0; i < vlen && i < 3 && v[i] >= '0' && v[i] <= '9'; i++)
			code = code * 10 + (v[i] - '0');
		/* Not a number: gRPC says treat it as UNKNOWN. */
		h->grpc_status = i && i == vlen ? code : OP_GRPC_UNKNOWN;
	} else if (h->grpc && IS("grpc-message")) {
		set_grpc_message(h, v, vlen);
	} else if (h->grpc && IS("grpc-status-details-bin")) {
		h->retry_info = op_grpc_retry_info(v, vlen, &h->retry_info_ms);
	}
#undef IS
	return len;
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

static int add_line(struct curl_slist **list, const char *line)
{
	struct curl_slist *grown = curl_slist_append(*list, line);

	if (!grown)
		return -1;
	*list = grown;
	return 0;
}

/*
 * The configured headers, then ours, except those a configured header
 * already names (the user's choice wins, except where gRPC fixes the
 * value). "Expect:" stops libcurl from sending "Expect: 100-continue" for
 * bodies over 1 KiB, which costs a round trip, or a one-second stall with
 * receivers that do not answer 100.
 */
static struct curl_slist *build_headers(const struct op_sender_opts *o)
{
	struct curl_slist *list = NULL;
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
		if (!strcasecmp(hd->name, "content-type") || !strcasecmp(hd->name, "te")) {
			if (o->grpc)
				continue;
			own_type = false;
		} else if (!strcasecmp(hd->name, "user-agent")) {
			own_agent = false;
		}
		op_buf_reset(&line);
		/* "Name:" with nothing after it tells libcurl to remove a header; "Name;" sends it empty. */
		if (hd->value && *hd->value)
			op_buf_addf(&line, "%s: %s", hd->name, hd->value);
		else
			op_buf_addf(&line, "%s;", hd->name);
		if (line.err || add_line(&list, line.p))
			goto fail;
	}
	if (own_type) {
		op_buf_reset(&line);
		op_buf_addf(&line, "Content-Type: %s", o->grpc ? "application/grpc" : o->content_type);
		if (line.err || add_line(&list, line.p))
			goto fail;
	}
	/* The OTLP specification's form first, then the product. */
	if (own_agent &&
	    add_line(&list, "User-Agent: OTel-OTLP-Exporter-C/" OP_VERSION " otelpreload/" OP_VERSION))
		goto fail;
	if (o->grpc) {
		/* gRPC over HTTP/2: the server must know we read trailers (grpc-status). */
		if (add_line(&list, "TE: trailers") ||
		    (o->gzip && add_line(&list, "grpc-encoding: gzip")))
			goto fail;
	} else if (o->gzip && add_line(&list, "Content-Encoding: gzip")) {
		goto fail;
	}
	if (add_line(&list, "Expect:"))
		goto fail;
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
	bad |= curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header) != CURLE_OK;
	bad |= curl_easy_setopt(c, CURLOPT_HEADERDATA, h) != CURLE_OK;
	/* A 4xx/5xx is an answer we read ourselves, not a transfer error. */
	bad |= curl_easy_setopt(c, CURLOPT_FAILONERROR, 0L) != CURLE_OK;
	if (h->grpc) {
		/*
		 * gRPC is HTTP/2 only: over TLS libcurl offers h2 with ALPN; in
		 * clear text it starts HTTP/2 right away (no Upgrade: gRPC
		 * servers do not do h2c upgrades).
		 */
		bad |= curl_easy_setopt(c, CURLOPT_HTTP_VERSION,
					h->https ? (long)CURL_HTTP_VERSION_2TLS
						 : (long)CURL_HTTP_VERSION_2_PRIOR_KNOWLEDGE) != CURLE_OK;
		/*
		 * An HTTP/2 connection left in the share by a handle that has
		 * been cleaned up fails its next stream with a framing error in
		 * libcurl 7.88 (Debian 12). A connection per export costs a
		 * round trip on loopback and, with TLS, an abbreviated handshake
		 * (sessions stay in the share): cheap at one export per batch.
		 */
		bad |= curl_easy_setopt(c, CURLOPT_FORBID_REUSE, 1L) != CURLE_OK;
	}
	if (h->ca_file)
		bad |= curl_easy_setopt(c, CURLOPT_CAINFO, h->ca_file) != CURLE_OK;
	if (h->cert_file)
		bad |= curl_easy_setopt(c, CURLOPT_SSLCERT, h->cert_file) != CURLE_OK;
	if (h->key_file)
		bad |= curl_easy_setopt(c, CURLOPT_SSLKEY, h->key_file) != CURLE_OK;
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
 * Lets go of the connections without touching them: in a forked child
 * (they are the parent's), or when the program closed some of our
 * descriptors (their numbers may be its own now). Closing the descriptors
 * still ours only drops our references; a curl_share_cleanup() would also
 * send a TLS close_notify over a socket the parent is still using, or
 * write to a descriptor the program reused, so the old share is leaked
 * instead (a few kilobytes, once per child or per such close).
 */
static void abandon(struct op_sender *h)
{
	unsigned i;

	for (i = 0; i < h->n_socks; i++)
		if (sock_ours(&h->socks[i]))
			close(h->socks[i].fd);
	h->n_socks = 0;
	h->share = NULL;
}

static void sender_free(struct op_sender *h)
{
	curl_slist_free_all(h->headers);
	op_buf_free(&h->out);
	op_buf_free(&h->resp);
	free(h->ca_file);
	free(h->cert_file);
	free(h->key_file);
	free(h->shown_url);
	free(h->url);
	free(h);
}

/* A copy of an optional string: false only when the copy failed. */
static bool dup_opt(char **dst, const char *src)
{
	*dst = src ? strdup(src) : NULL;
	return !src || *dst;
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
	h->what = o->what;
	h->grpc = o->grpc;
	h->gzip = o->gzip;
	h->answer = o->answer;
	h->exiting = o->exiting;
	h->timeout_ms = o->timeout_ms;
	h->rnd = (uint32_t)op_mono_ns() ^ (uint32_t)getpid() * 2654435761u;
	if (!h->rnd)
		h->rnd = 1;
	if (!(h->url = strdup(o->url)) || !dup_opt(&h->ca_file, o->ca_file) ||
	    !dup_opt(&h->cert_file, o->cert_file) || !dup_opt(&h->key_file, o->key_file))
		goto oom;
	h->shown_url = shown_url(h->url);
	if (!h->shown_url) {
		op_warn("the %s endpoint is not a valid URL; %s export is off", o->what, o->what);
		goto fail;
	}
	/* libcurl lower-cases the scheme in shown_url(). */
	h->https = !strncmp(h->shown_url, "https://", 8);
	if (!h->https && strncmp(h->shown_url, "http://", 7)) {
		op_warn("the %s endpoint %s is not http:// or https://; %s export is off",
			o->what, h->shown_url, o->what);
		goto fail;
	}
#ifdef OP_BUNDLED_DEPS
	if (h->https && !h->ca_file)
		h->ca_file = system_ca_bundle();   /* none: libcurl then fails the handshake */
#endif
	if (h->grpc && !(curl_version_info(CURLVERSION_NOW)->features & CURL_VERSION_HTTP2)) {
		op_warn("this libcurl has no HTTP/2, which OTLP/gRPC needs; use "
			"OTEL_EXPORTER_OTLP_PROTOCOL=http/protobuf");
		goto fail;
	}
	h->headers = build_headers(o);
	if (!h->headers || share_setup(h))
		goto oom;
	return h;
oom:
	op_warn("cannot set up %s export: out of memory", o->what);
fail:
	if (h)
		sender_free(h);
	return NULL;
}

/*
 * gzip of <body, len> appended to h->out. Level 1: the exporter thread
 * should cost the host little CPU, and on span batches (repetitive keys
 * and values) the fastest level already gives most of the reduction.
 */
static int gzip_into(struct op_sender *h, const uint8_t *body, size_t len)
{
	z_stream z;
	size_t bound;
	char *dst;
	int rc;

	memset(&z, 0, sizeof z);
	/* windowBits 15 + 16: a gzip wrapper rather than zlib's. */
	if (deflateInit2(&z, 1, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
		return -1;
	bound = deflateBound(&z, (uLong)len);
	dst = len <= UINT32_MAX ? op_buf_space(&h->out, bound) : NULL;
	if (!dst) {
		deflateEnd(&z);
		return -1;
	}
	z.next_in = (Bytef *)(uintptr_t)body;
	z.avail_in = (uInt)len;
	z.next_out = (Bytef *)dst;
	z.avail_out = (uInt)bound;
	rc = deflate(&z, Z_FINISH);
	h->out.len += z.total_out;
	deflateEnd(&z);
	return rc == Z_STREAM_END ? 0 : -1;
}

/*
 * The bytes to send for one encoded batch: as is, gzip'd, and for gRPC
 * behind the 5-byte message prefix.
 */
static int prepare(struct op_sender *h, const uint8_t **body, size_t *len)
{
	uint8_t prefix[OP_GRPC_PREFIX];

	if (!h->gzip && !h->grpc)
		return 0;
	op_buf_reset(&h->out);
	if (h->grpc)
		op_buf_add(&h->out, "\0\0\0\0\0", OP_GRPC_PREFIX);
	if (h->gzip) {
		if (gzip_into(h, *body, *len))
			return -1;
	} else {
		op_buf_add(&h->out, *body, *len);
	}
	if (h->out.err || h->out.len - (h->grpc ? OP_GRPC_PREFIX : 0) > UINT32_MAX)
		return -1;
	if (h->grpc) {
		op_grpc_prefix(prefix, h->gzip, (uint32_t)(h->out.len - OP_GRPC_PREFIX));
		memcpy(h->out.p, prefix, OP_GRPC_PREFIX);
	}
	*body = (const uint8_t *)h->out.p;
	*len = h->out.len;
	return 0;
}

/* The text of a partial success, quoted and escaped: it is not ours to trust. */
static void log_partial(struct op_sender *h, long long rejected, const char *msg, size_t mlen,
			size_t n_spans)
{
	struct op_buf m = OP_BUF_INIT;

	op_json_str(&m, msg, mlen);
	op_debug("%s rejected %lld of %zu spans: %s", h->shown_url, rejected, n_spans,
		 m.err ? "" : m.p);
	op_buf_free(&m);
}

/*
 * The partialSuccess of an OTLP/JSON answer:
 * {"partialSuccess":{"rejectedSpans":"3","errorMessage":"..."}}. A small
 * scanner rather than a JSON library: only these two members matter, and
 * only for a debug line. `msg` points into the answer, still escaped.
 */
struct json_partial {
	long long rejected;
	const char *msg;
	size_t msg_len;
};

struct jscan {
	const char *p, *end;
	int depth;
};

#define OP_JSON_DEPTH_MAX 32

static void jspace(struct jscan *j)
{
	while (j->p < j->end && strchr(" \t\r\n", *j->p) && *j->p)
		j->p++;
}

/* A string: sets <*s, *len> to its raw contents. */
static int jstring(struct jscan *j, const char **s, size_t *len)
{
	if (j->p >= j->end || *j->p != '"')
		return -1;
	*s = ++j->p;
	while (j->p < j->end && *j->p != '"')
		j->p += *j->p == '\\' ? 2 : 1;
	if (j->p >= j->end)
		return -1;
	*len = (size_t)(j->p++ - *s);
	return 0;
}

static int jvalue(struct jscan *j, struct json_partial *out, int role);

/* Roles: what the value being read is, so the two members are recognised. */
enum { J_OTHER, J_TOP, J_PARTIAL, J_REJECTED, J_MESSAGE };

static int jobject(struct jscan *j, struct json_partial *out, int role)
{
	const char *k;
	size_t klen;
	int sub;

	j->p++;
	jspace(j);
	if (j->p < j->end && *j->p == '}')
		return j->p++, 0;
	for (;;) {
		jspace(j);
		if (jstring(j, &k, &klen))
			return -1;
		jspace(j);
		if (j->p >= j->end || *j->p++ != ':')
			return -1;
		jspace(j);
		sub = J_OTHER;
#define KEY(n) (klen == sizeof(n) - 1 && !memcmp(k, n, klen))
		if (role == J_TOP && KEY("partialSuccess"))
			sub = J_PARTIAL;
		else if (role == J_PARTIAL && KEY("rejectedSpans"))
			sub = J_REJECTED;
		else if (role == J_PARTIAL && KEY("errorMessage"))
			sub = J_MESSAGE;
#undef KEY
		if (jvalue(j, out, sub))
			return -1;
		jspace(j);
		if (j->p < j->end && *j->p == ',') {
			j->p++;
			continue;
		}
		if (j->p < j->end && *j->p == '}')
			return j->p++, 0;
		return -1;
	}
}

static int jvalue(struct jscan *j, struct json_partial *out, int role)
{
	const char *s;
	size_t len;
	int rc = 0;

	if (j->p >= j->end || ++j->depth > OP_JSON_DEPTH_MAX)
		return -1;
	if (*j->p == '{') {
		rc = jobject(j, out, role == J_TOP || role == J_PARTIAL ? role : J_OTHER);
	} else if (*j->p == '[') {
		j->p++;
		jspace(j);
		if (j->p < j->end && *j->p == ']') {
			j->p++;
		} else {
			for (;;) {
				jspace(j);
				if (jvalue(j, out, J_OTHER))
					return -1;
				jspace(j);
				if (j->p < j->end && *j->p == ',') {
					j->p++;
					continue;
				}
				if (j->p >= j->end || *j->p++ != ']')
					return -1;
				break;
			}
		}
	} else if (*j->p == '"') {
		rc = jstring(j, &s, &len);
		/* int64 is a string in the protobuf JSON mapping; a number is accepted too. */
		if (!rc && role == J_REJECTED)
			out->rejected = strtoll(s, NULL, 10);
		else if (!rc && role == J_MESSAGE)
			out->msg = s, out->msg_len = len;
	} else {
		s = j->p;
		while (j->p < j->end && !strchr(",}] \t\r\n", *j->p))
			j->p++;
		if (j->p == s)
			return -1;
		if (role == J_REJECTED)
			out->rejected = strtoll(s, NULL, 10);
	}
	j->depth--;
	return rc;
}

static bool json_partial_success(const char *body, size_t len, struct json_partial *out)
{
	struct jscan j = { body, body + len, 0 };

	jspace(&j);
	if (j.p >= j.end || *j.p != '{')
		return false;
	return jvalue(&j, out, J_TOP) == 0;
}

/*
 * A successful answer may still report spans the collector dropped (OTLP
 * partial success). They must not be sent again, so this is information
 * only, at debug level.
 */
static void report_partial_success(struct op_sender *h, CURL *c, size_t n_spans)
{
	Opentelemetry__Proto__Collector__Trace__V1__ExportTraceServiceResponse *r;
	const uint8_t *msg = (const uint8_t *)h->resp.p;
	size_t len = h->resp.len;
	const char *type = NULL;

	if (!len || h->resp_truncated || h->answer == OP_ANSWER_NONE)
		return;
	if (h->answer == OP_ANSWER_OTLP_JSON) {
		struct json_partial p = { 0 };

		if (json_partial_success(h->resp.p, h->resp.len, &p) &&
		    (p.rejected || p.msg_len))
			log_partial(h, p.rejected, p.msg, p.msg_len, n_spans);
		return;
	}
	if (h->grpc) {
		if (op_grpc_unframe(msg, len, &msg, &len)) {
			op_debug("%s: the answer is not one uncompressed gRPC message", h->shown_url);
			return;
		}
	} else {
		curl_easy_getinfo(c, CURLINFO_CONTENT_TYPE, &type);
		if (type && strncasecmp(type, "application/x-protobuf", 22))
			return;
	}
	r = opentelemetry__proto__collector__trace__v1__export_trace_service_response__unpack(
		NULL, len, msg);
	if (!r) {
		op_debug("%s: cannot decode the %zu-byte answer", h->shown_url, len);
		return;
	}
	if (r->partial_success && (r->partial_success->rejected_spans ||
				   *r->partial_success->error_message))
		log_partial(h, (long long)r->partial_success->rejected_spans,
			    r->partial_success->error_message,
			    strlen(r->partial_success->error_message), n_spans);
	opentelemetry__proto__collector__trace__v1__export_trace_service_response__free_unpacked(r, NULL);
}

/* What one attempt came to. */
enum outcome {
	SENT,
	RETRY,         /* the server asked for another try, or is overloaded */
	RETRY_CONNECT, /* no answer at all: the collector is down or restarting */
	LOST,
};

/* libcurl results that mean the connection failed before any answer came. */
static bool connection_failed(CURLcode rc)
{
	switch (rc) {
	case CURLE_COULDNT_RESOLVE_PROXY:
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_COULDNT_CONNECT:
	case CURLE_SEND_ERROR:
	case CURLE_RECV_ERROR:
	case CURLE_GOT_NOTHING:
	case CURLE_HTTP2:
	case CURLE_HTTP2_STREAM:
		return true;
	default:
		return false;
	}
}

static enum outcome judge(struct op_sender *h, CURL *c, CURLcode rc, size_t n_spans,
			  int64_t *wait_ms)
{
	long status = 0;
	int code;

	*wait_ms = -1;
	if (rc != CURLE_OK) {
		op_debug("cannot export %zu spans to %s: %s", n_spans, h->shown_url,
			 h->err[0] ? h->err : curl_easy_strerror(rc));
		return connection_failed(rc) ? RETRY_CONNECT : LOST;
	}
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
	if (!h->grpc) {
		if (status >= 200 && status <= 299)
			return SENT;
		op_debug("cannot export %zu spans: %s answered HTTP %ld", n_spans, h->shown_url,
			 status);
		if (!op_http_status_retryable(status))
			return LOST;
		*wait_ms = h->retry_after_ms;
		return RETRY;
	}
	/* gRPC: the status is in the trailers, or in the headers of a trailers-only answer. */
	code = h->grpc_status >= 0 ? h->grpc_status :
	       status == 200 ? OP_GRPC_UNKNOWN : op_grpc_code_from_http(status);
	if (code == OP_GRPC_OK)
		return SENT;
	op_debug("cannot export %zu spans: %s answered gRPC status %d%s%s (HTTP %ld)", n_spans,
		 h->shown_url, code, h->grpc_message[0] ? ": " : "", h->grpc_message, status);
	if (!op_grpc_code_retryable(code, h->retry_info))
		return LOST;
	*wait_ms = h->retry_info ? h->retry_info_ms :
		   h->grpc_status < 0 ? h->retry_after_ms : -1;
	return RETRY;
}

/* xorshift32: jitter needs spread, not secrecy. */
static uint32_t next_rnd(struct op_sender *h)
{
	uint32_t x = h->rnd;

	x ^= x << 13;
	x ^= x >> 17;
	x ^= x << 5;
	return h->rnd = x;
}

static bool exiting(const struct op_sender *h, unsigned flags)
{
	return (flags & OP_SEND_FINAL) ||
	       (h->exiting && atomic_load_explicit(h->exiting, memory_order_relaxed));
}

/* Slices of a wait between attempts: how soon the start of an exit is noticed. */
#define OP_WAIT_SLICE_NS (20 * 1000000LL)

/*
 * Sleeps until `mono_ns`. With `give_up_on_exit`, returns false as soon
 * as the process starts exiting (the host must not wait for a collector
 * that is down); true when the time has come.
 */
static bool wait_until(const struct op_sender *h, int64_t mono_ns, bool give_up_on_exit)
{
	for (;;) {
		int64_t now = op_mono_ns(), until = mono_ns;
		struct timespec ts;

		if (give_up_on_exit && exiting(h, 0))
			return false;
		if (now >= mono_ns)
			return true;
		if (give_up_on_exit && until - now > OP_WAIT_SLICE_NS)
			until = now + OP_WAIT_SLICE_NS;
		ts.tv_sec = until / 1000000000;
		ts.tv_nsec = until % 1000000000;
		while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
			;
	}
}

/* One POST, bounded by `deadline`. */
static CURLcode attempt(struct op_sender *h, CURL *c, const uint8_t *body, size_t len,
			int64_t deadline)
{
	struct op_sigpipe st;
	int64_t timeout_ms = (deadline - op_mono_ns()) / 1000000;
	CURLcode rc;

	if (timeout_ms < 1)
		timeout_ms = 1;
	op_buf_reset(&h->resp);
	h->resp_truncated = false;
	h->err[0] = '\0';
	answer_reset(h);
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
	return rc;
}

int op_sender_send(struct op_sender *h, const uint8_t *body, size_t len, size_t n_spans,
		   int64_t deadline_mono_ns, unsigned flags)
{
	int64_t start = op_mono_ns(), deadline = deadline_mono_ns, wait_ms, resume;
	size_t raw_len = len;
	enum outcome out = LOST;
	unsigned tries;
	CURL *c;

	if (h->timeout_ms > 0 && start + h->timeout_ms * 1000000 < deadline)
		deadline = start + h->timeout_ms * 1000000;
	if (h->pid != getpid() || lost_socket(h)) {
		if (h->pid == getpid())
			op_debug("the program closed a connection of ours; reconnecting");
		abandon(h);
		if (share_setup(h)) {
			op_debug("cannot export %zu spans: out of memory", n_spans);
			return -1;
		}
	}
	if (prepare(h, &body, &len)) {
		op_debug("cannot export %zu spans: cannot compress or frame them", n_spans);
		return -1;
	}
	/*
	 * A handle per attempt, so that libcurl's internal descriptors do not
	 * exist while we sleep between attempts (see struct op_sender).
	 */
	for (tries = 1;; tries++) {
		CURLcode rc;

		c = easy_new(h);
		if (!c) {
			op_debug("cannot export %zu spans: out of memory", n_spans);
			return -1;
		}
		rc = attempt(h, c, body, len, deadline);
		out = judge(h, c, rc, n_spans, &wait_ms);
		if (out == SENT)
			report_partial_success(h, c, n_spans);
		/* The connection stays in the share; only the handle goes. */
		curl_easy_cleanup(c);
		if (out == SENT || out == LOST)
			break;
		/* At exit the host is waiting: a collector that is not there gets no second try. */
		if (out == RETRY_CONNECT && exiting(h, flags))
			break;
		/*
		 * The server's wait, but never less than the backoff's floor: a
		 * "Retry-After: 0" (or a date in the past) answered every time
		 * must not turn into a tight loop of requests.
		 */
		if (wait_ms < 0)
			wait_ms = op_backoff_ms(tries, next_rnd(h));
		else if (wait_ms < op_backoff_ms(tries, 0))
			wait_ms = op_backoff_ms(tries, 0);
		resume = op_mono_ns() + wait_ms * 1000000;
		if (resume >= deadline) {
			op_debug("%s: no time left to retry (%lld ms wanted); %zu spans lost",
				 h->shown_url, (long long)wait_ms, n_spans);
			break;
		}
		if (!wait_until(h, resume, out == RETRY_CONNECT)) {
			op_debug("%s: the process is exiting; %zu spans lost", h->shown_url, n_spans);
			break;
		}
	}
	if (out == SENT) {
		op_debug("exported %zu spans (%zu bytes%s) to %s in %lld ms, %u attempt%s", n_spans,
			 len, len != raw_len ? ", compressed or framed" : "", h->shown_url,
			 (long long)((op_mono_ns() - start) / 1000000), tries, tries > 1 ? "s" : "");
	}
	return out == SENT ? 0 : -1;
}

void op_sender_destroy(struct op_sender *h)
{
	if (!h)
		return;
	if (h->pid != getpid() || lost_socket(h))
		abandon(h);
	else
		curl_share_cleanup(h->share);
	sender_free(h);
}
