/*
 * Namespace annotations from the Kubernetes API, the way the OpenTelemetry
 * Operator reads them: a pod with no otelpreload.dev/inject annotation of
 * its own is selected when its namespace is annotated "true". Webhook
 * selectors see labels only (a namespace label has its own webhook,
 * /mutate-namespace), so for an annotation the webhook asks the API server:
 * GET /api/v1/namespaces/NAME with its service account's token.
 *
 * The API server waits for the webhook at most timeoutSeconds (5 s in
 * deploy/), so a fetch has OP_WH_NS_FETCH_MS in all, and anything but an
 * answer in time means "no annotations": the pod is admitted unchanged,
 * never refused. Answers are cached for CACHE_TTL_MS and failures for
 * FAIL_TTL_MS, for at most CACHE_SIZE namespaces, and reviews of one
 * namespace that arrive while it is being fetched wait for that fetch: a
 * Deployment scaled to 100 replicas costs the API server one request.
 *
 * Only otelpreload.dev/inject is kept: it is all op_k8s_review() reads from
 * a namespace, and it keeps every cache entry small and of fixed size.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <curl/curl.h>

#include "server.h"

/* Namespaces whose pods were reviewed within the last CACHE_TTL_MS: a
 * cluster rarely creates pods in more at once, and a namespace pushed out
 * costs one more fetch, nothing else. */
#define CACHE_SIZE 256
/* How long an answer is used: an annotation added to or removed from a
 * namespace applies to its new pods within this time. */
#define CACHE_TTL_MS 30000
/* How long a failed fetch stands: short, so an API server back from a
 * blip is used again soon, but long enough that a burst of pods during an
 * outage does not wait OP_WH_NS_FETCH_MS each. */
#define FAIL_TTL_MS 5000
/* A review that finds its namespace being fetched waits for that fetch,
 * which curl ends within OP_WH_NS_FETCH_MS; this much more covers the
 * fetching thread's own work. */
#define WAIT_MARGIN_MS 250
/* A projected token is a JWT of about 1 KiB; its claims are bounded. */
#define TOKEN_MAX 16384
/* The answer: a PartialObjectMetadata, or the whole Namespace from an API
 * server too old for that. Annotations take at most 256 KiB (the API
 * server's limit for all of an object's annotations), labels and
 * managedFields less; more is not a namespace. */
#define BODY_MAX (1u << 20)
/* The address as the environment gives it: a host name or an IPv4 or IPv6
 * address, and a port. */
#define HOST_MAX 255

struct entry {
	char name[OP_K8S_NAMESPACE_MAX + 1];  /* "" for a free slot */
	bool fetching;  /* a thread is fetching it: wait, do not reuse */
	bool known;     /* the last fetch answered (else it failed) */
	int inject;     /* op_k8s_inject_annotation() of its annotations */
	int64_t expires_ms;
};

/* Only cache_lock must be held to read or write the entries; cache_cv is
 * broadcast when a fetch ends. The fetch itself runs unlocked. */
static pthread_mutex_t cache_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cache_cv;
static struct entry cache[CACHE_SIZE];

/* Set by op_wh_ns_init() before any connection thread starts, read-only
 * afterwards: no lock. */
static bool enabled;
static char api[HOST_MAX + 64];  /* "https://HOST:PORT", no trailing '/' */
static const char *token_path, *ca_path;

bool op_wh_ns_enabled(void)
{
	return enabled;
}

static bool host_ok(const char *s)
{
	if (!*s || strlen(s) > HOST_MAX)
		return false;
	for (; *s; s++)
		if (!((*s >= '0' && *s <= '9') || (*s >= 'a' && *s <= 'z') ||
		      (*s >= 'A' && *s <= 'Z') || *s == '.' || *s == '-' || *s == ':'))
			return false;
	return true;
}

static bool port_ok(const char *s)
{
	if (!*s || strlen(s) > 5)
		return false;
	for (; *s; s++)
		if (*s < '0' || *s > '9')
			return false;
	return true;
}

/*
 * The token, read afresh for every fetch: the kubelet rotates a projected
 * token (swapping the volume's ..data symlink) well before it expires, so a
 * copy kept in memory goes stale, and fetches are rare (the cache), so
 * reading a 1 KiB file each time costs nothing. Trailing white space is
 * dropped; a token with anything else outside printable ASCII is refused
 * rather than put into a header.
 */
static bool read_token(char *tok, size_t size, char *why, size_t why_size)
{
	int fd = open(token_path, O_RDONLY | O_CLOEXEC);
	size_t n = 0;

	if (fd < 0) {
		snprintf(why, why_size, "cannot read --kube-token=%s: %s", token_path,
			 strerror(errno));
		return false;
	}
	for (;;) {
		ssize_t r = read(fd, tok + n, size - 1 - n);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			snprintf(why, why_size, "cannot read --kube-token=%s: %s", token_path,
				 strerror(errno));
			close(fd);
			return false;
		}
		if (r == 0)
			break;
		n += (size_t)r;
		if (n == size - 1) {
			snprintf(why, why_size, "--kube-token=%s is larger than %u bytes",
				 token_path, TOKEN_MAX - 1);
			close(fd);
			return false;
		}
	}
	close(fd);
	while (n > 0 && (tok[n - 1] == '\n' || tok[n - 1] == '\r' || tok[n - 1] == ' ' ||
			 tok[n - 1] == '\t'))
		n--;
	tok[n] = '\0';
	for (size_t i = 0; i < n; i++) {
		if ((unsigned char)tok[i] <= 0x20 || (unsigned char)tok[i] >= 0x7f) {
			snprintf(why, why_size, "--kube-token=%s holds a character a token cannot "
				 "have", token_path);
			return false;
		}
	}
	if (n == 0) {
		snprintf(why, why_size, "--kube-token=%s is empty", token_path);
		return false;
	}
	return true;
}

static size_t on_body(char *p, size_t size, size_t nmemb, void *arg)
{
	struct op_buf *b = arg;
	size_t n = size * nmemb;

	if (n > BODY_MAX - b->len)
		return 0; /* curl ends the transfer with CURLE_WRITE_ERROR */
	op_buf_add(b, p, n);
	return b->err ? 0 : n;
}

/*
 * GET /api/v1/namespaces/NS: true with *inject set from its annotations
 * (-1 as well for a namespace that does not exist), or false with *why
 * saying what went wrong. `why` never holds the token.
 */
static bool fetch(const char *ns, int *inject, char *why, size_t why_size)
{
	static const char auth_prefix[] = "Authorization: Bearer ";
	char url[sizeof api + 32 + OP_K8S_NAMESPACE_MAX], err[CURL_ERROR_SIZE] = "";
	char auth[sizeof auth_prefix + TOKEN_MAX];
	struct curl_slist *headers = NULL, *h;
	struct op_buf body = OP_BUF_INIT;
	struct op_json *doc;
	CURL *curl;
	CURLcode rc;
	long status = 0;
	bool ok = false;

	memcpy(auth, auth_prefix, sizeof auth_prefix - 1);
	if (!read_token(auth + sizeof auth_prefix - 1, TOKEN_MAX, why, why_size))
		return false;
	snprintf(url, sizeof url, "%s/api/v1/namespaces/%s", api, ns);
	curl = curl_easy_init();
	h = curl_slist_append(headers, auth);
	/* curl keeps its own copy of the header; ours goes now. */
	explicit_bzero(auth, sizeof auth);
	if (h)
		headers = h;
	/* Only the metadata: the API server sends a PartialObjectMetadata
	 * (Kubernetes 1.20 and later), else the whole Namespace. */
	h = h ? curl_slist_append(headers, "Accept: application/json;as=PartialObjectMetadata;"
					   "g=meta.k8s.io;v=v1,application/json")
	      : NULL;
	if (!curl || !h) {
		snprintf(why, why_size, "out of memory");
		goto out;
	}
	headers = h;
	curl_easy_setopt(curl, CURLOPT_URL, url);
	curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
	curl_easy_setopt(curl, CURLOPT_USERAGENT, OP_WH_NAME "/" OP_VERSION);
	curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "https");
	/* The cluster's CA and nothing else: the system's bundle and
	 * directory would let any public CA vouch for the API server. */
	curl_easy_setopt(curl, CURLOPT_CAINFO, ca_path);
	curl_easy_setopt(curl, CURLOPT_CAPATH, NULL);
	curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, (long)OP_WH_NS_FETCH_MS);
	/* Threads: no SIGALRM for name resolution timeouts. */
	curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, err);
	curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(curl, CURLOPT_WRITEDATA, &body);
	rc = curl_easy_perform(curl);
	curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
	if (rc == CURLE_OPERATION_TIMEDOUT) {
		snprintf(why, why_size, "no answer within %d ms", OP_WH_NS_FETCH_MS);
	} else if (rc == CURLE_WRITE_ERROR) {
		snprintf(why, why_size, "the answer is larger than %u bytes", BODY_MAX);
	} else if (rc != CURLE_OK) {
		snprintf(why, why_size, "%s", err[0] ? err : curl_easy_strerror(rc));
	} else if (status == 404) {
		*inject = -1; /* deleted meanwhile: its pods are not ours either */
		ok = true;
	} else if (status == 401) {
		snprintf(why, why_size, "HTTP 401: the API server refused the token");
	} else if (status == 403) {
		snprintf(why, why_size, "HTTP 403: the service account may not get namespaces "
			 "(deploy/rbac.yaml grants it)");
	} else if (status != 200) {
		snprintf(why, why_size, "HTTP %ld", status);
	} else if (!(doc = op_json_parse(body.p ? body.p : "", body.len, NULL, NULL))) {
		snprintf(why, why_size, "the answer is not JSON");
	} else {
		struct op_json *meta = op_json_get(doc, "metadata");

		if (!meta || meta->type != OP_JSON_OBJECT) {
			snprintf(why, why_size, "the answer has no metadata");
		} else {
			*inject = op_k8s_inject_annotation(op_json_get(meta, "annotations"));
			ok = true;
		}
		op_json_free(doc);
	}
out:
	curl_easy_cleanup(curl);
	curl_slist_free_all(headers);
	op_buf_free(&body);
	return ok;
}

/* With cache_lock held: the entry of `ns`, or NULL. */
static struct entry *find(const char *ns)
{
	for (size_t i = 0; i < CACHE_SIZE; i++)
		if (cache[i].name[0] && !strcmp(cache[i].name, ns))
			return &cache[i];
	return NULL;
}

/* With cache_lock held: a slot for a new namespace, a free one, else the
 * one that expires first and is not being fetched; NULL when every slot is
 * being fetched (the caller then fetches without caching). */
static struct entry *slot(void)
{
	struct entry *best = NULL;

	for (size_t i = 0; i < CACHE_SIZE; i++) {
		struct entry *e = &cache[i];

		if (!e->name[0])
			return e;
		if (!e->fetching && (!best || e->expires_ms < best->expires_ms))
			best = e;
	}
	return best;
}

/* With cache_lock held: waits on cache_cv until `until_ms` at the latest. */
static void wait_until(int64_t until_ms)
{
	int64_t left = until_ms - op_wh_now_ms();
	struct timespec ts;

	if (left <= 0)
		return;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	ts.tv_sec += left / 1000;
	ts.tv_nsec += (left % 1000) * 1000000L;
	if (ts.tv_nsec >= 1000000000L) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000L;
	}
	pthread_cond_timedwait(&cache_cv, &cache_lock, &ts);
}

/* The annotations op_k8s_review() is given for a namespace. */
static bool write_annotations(int inject, char *out, size_t size)
{
	const char *text = inject == 1   ? "{\"" OP_K8S_ANNOTATION_PREFIX "inject\":\"true\"}"
			   : inject == 0 ? "{\"" OP_K8S_ANNOTATION_PREFIX "inject\":\"false\"}"
					 : "{}";
	int n = snprintf(out, size, "%s", text);

	return n > 0 && (size_t)n < size;
}

bool op_wh_ns_annotations(const char *ns, char *out, size_t size)
{
	int64_t give_up = op_wh_now_ms() + OP_WH_NS_FETCH_MS + WAIT_MARGIN_MS;
	struct entry *e;
	char why[CURL_ERROR_SIZE + 128];
	int inject = -1;
	bool known;

	if (!enabled || strlen(ns) > OP_K8S_NAMESPACE_MAX)
		return false;
	pthread_mutex_lock(&cache_lock);
	for (;;) {
		e = find(ns);
		if (e && !e->fetching && op_wh_now_ms() < e->expires_ms) {
			known = e->known;
			inject = e->inject;
			pthread_mutex_unlock(&cache_lock);
			return known && write_annotations(inject, out, size);
		}
		if (!e || !e->fetching)
			break;
		if (op_wh_now_ms() >= give_up) {
			pthread_mutex_unlock(&cache_lock);
			return false;
		}
		wait_until(give_up);
	}
	if (!e)
		e = slot();
	if (e) {
		snprintf(e->name, sizeof e->name, "%s", ns);
		e->fetching = true;
	}
	pthread_mutex_unlock(&cache_lock);

	known = fetch(ns, &inject, why, sizeof why);
	if (!known)
		fprintf(stderr,
			OP_WH_NAME ": cannot read namespace %s from %s: %s; taking it as not "
			"annotated for %d s\n", ns, api, why, FAIL_TTL_MS / 1000);

	pthread_mutex_lock(&cache_lock);
	if (e) {
		e->fetching = false;
		e->known = known;
		e->inject = inject;
		e->expires_ms = op_wh_now_ms() + (known ? CACHE_TTL_MS : FAIL_TTL_MS);
		pthread_cond_broadcast(&cache_cv);
	}
	pthread_mutex_unlock(&cache_lock);
	return known && write_annotations(inject, out, size);
}

bool op_wh_ns_init(void)
{
	const char *opt = op_wh_cfg.kube_api;
	pthread_condattr_t ca;
	char why[256], tok[TOKEN_MAX];

	token_path = op_wh_cfg.kube_token ? op_wh_cfg.kube_token : OP_WH_SA_DIR "token";
	ca_path = op_wh_cfg.kube_ca ? op_wh_cfg.kube_ca : OP_WH_SA_DIR "ca.crt";
	if (opt && !strcmp(opt, "off")) {
		fprintf(stderr, OP_WH_NAME ": namespace annotations are not read (--kube-api=off); "
			"namespaces opt in by label\n");
		return true;
	}
	if (opt) {
		size_t n = strlen(opt);

		while (n > 0 && opt[n - 1] == '/')
			n--;
		snprintf(api, sizeof api, "%.*s", (int)n, opt);
	} else {
		const char *host = getenv("KUBERNETES_SERVICE_HOST");
		const char *port = getenv("KUBERNETES_SERVICE_PORT");

		if (!host || !*host) {
			fprintf(stderr, OP_WH_NAME ": namespace annotations are not read "
				"(KUBERNETES_SERVICE_HOST is not set: not in a cluster, and no "
				"--kube-api); namespaces opt in by label\n");
			return true;
		}
		if (!port || !*port)
			port = "443";
		if (!host_ok(host) || !port_ok(port)) {
			fprintf(stderr, OP_WH_NAME ": KUBERNETES_SERVICE_HOST=%.80s or "
				"KUBERNETES_SERVICE_PORT=%.16s is not an address and port; namespace "
				"annotations are not read\n", host, port);
			return true;
		}
		snprintf(api, sizeof api, strchr(host, ':') ? "https://[%s]:%s" : "https://%s:%s",
			 host, port);
	}
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		fprintf(stderr, OP_WH_NAME ": cannot initialise libcurl\n");
		return false;
	}
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&cache_cv, &ca);
	pthread_condattr_destroy(&ca);
	enabled = true;
	fprintf(stderr, OP_WH_NAME ": reading namespace annotations from %s (token %s, CA %s)\n",
		api, token_path, ca_path);
	/* Said now rather than at the first pod: a Deployment that mounts no
	 * token (automountServiceAccountToken: false) is a set-up mistake. */
	if (!read_token(tok, sizeof tok, why, sizeof why))
		fprintf(stderr, OP_WH_NAME ": %s; namespace annotations are not known until it "
			"can be read\n", why);
	explicit_bzero(tok, sizeof tok);
	if (access(ca_path, R_OK) != 0)
		fprintf(stderr, OP_WH_NAME ": cannot read --kube-ca=%s: %s\n", ca_path,
			strerror(errno));
	return true;
}

void op_wh_ns_cleanup(void)
{
	if (enabled)
		curl_global_cleanup();
}
