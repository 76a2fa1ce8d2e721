/*
 * A libcurl application for tests/integration/tls_curl_multi.sh: runs
 * transfers to the URLs it is given, with header lists of its own, and
 * proves that nothing touched those lists.
 *
 *   curl_multi [--easy] [--shared] [--again] [--own N=TRACEPARENT]...
 *              [--nolist N]... URL...
 *
 * Transfer N (1-based, in argument order) gets the header list
 *
 *   X-Test-Id: N
 *   traceparent: TRACEPARENT       (only with --own N=TRACEPARENT)
 *   Accept: text/plain
 *   X-App-Header: value-N
 *
 * or, with --shared, every transfer uses the one list "X-Test-Id: shared",
 * "Accept: text/plain", "X-App-Header: value-shared"; with --nolist N,
 * transfer N sets no CURLOPT_HTTPHEADER at all. Default: the multi
 * interface, one easy handle per URL, all added at once and driven together
 * with curl_multi_perform/curl_multi_poll, results read with
 * curl_multi_info_read, each handle removed when done. --again (multi
 * only): each handle, once done and removed, is added again for a second
 * transfer with "&again=1" (or "?again=1") appended to its URL and nothing
 * else changed (its header list stays set); with K URLs, the second
 * transfer of handle N is transfer K+N. --easy: one easy
 * handle for every URL in turn (curl_easy_perform; per-transfer lists set
 * before each transfer, the shared list set once before the first).
 * HTTPS is not verified (self-signed test servers); no proxy is used.
 *
 * Every list is snapshotted before the first transfer starts (node
 * addresses, string addresses, string contents, count) and compared with
 * the snapshot when each transfer completes, after its handle is removed
 * (multi) or performed (easy), and after every handle is cleaned up. Any
 * difference is reported on stderr and makes the exit status 1.
 *
 * Output, one JSON object per line on stdout: one per transfer,
 *   {"id": N, "url": URL, "code": RESPONSE_CODE, "result": CURLcode,
 *    "error": ERRORBUFFER, "body": BODY}
 * in completion order, then {"lists_intact": true|false, "lists": L,
 * "nodes": M, "checks": K}. Exit status 0 when every list stayed intact,
 * 1 when one changed, 2 on a usage or setup error. A transfer that fails
 * (a closed port...) is reported, not an error of the program.
 */
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_XFERS 64
#define MAX_NODES 16

struct snap {
	int count;
	const struct curl_slist *node[MAX_NODES];
	const char *data[MAX_NODES];
	char *copy[MAX_NODES];
};

struct body {
	char *p;
	size_t len;
};

struct xfer {
	int id;
	const char *url;
	const char *own; /* traceparent of the application's own, or NULL */
	CURL *h;
	struct curl_slist *list; /* the list this transfer uses (maybe shared) */
	struct body body;
	long code;
	CURLcode result;
	int done;
	char err[CURL_ERROR_SIZE];
};

static struct xfer xf[MAX_XFERS];
static int nxf, nurls;
/* The distinct lists and their snapshots. */
static struct curl_slist *lists[MAX_XFERS];
static struct snap snaps[MAX_XFERS];
static int nlists;
static int checks, broken;

static void die(const char *what)
{
	fprintf(stderr, "curl_multi: %s\n", what);
	exit(2);
}

static struct curl_slist *append(struct curl_slist *l, const char *s)
{
	struct curl_slist *n = curl_slist_append(l, s);
	if (!n)
		die("curl_slist_append failed");
	return n;
}

static void take(const struct curl_slist *l, struct snap *s)
{
	s->count = 0;
	for (; l; l = l->next) {
		if (s->count == MAX_NODES)
			die("header list too long");
		s->node[s->count] = l;
		s->data[s->count] = l->data;
		s->copy[s->count] = strdup(l->data);
		if (!s->copy[s->count])
			die("out of memory");
		s->count++;
	}
}

/* Compares list i with its snapshot; reports every difference. */
static void check_list(int i, const char *when)
{
	const struct snap *s = &snaps[i];
	const struct curl_slist *l = lists[i];
	int k = 0, bad = 0;

	checks++;
	for (; l && k < MAX_NODES; l = l->next, k++) {
		if (k >= s->count) {
			fprintf(stderr, "curl_multi: list %d %s: node %d added: %p \"%s\"\n", i, when, k,
				(const void *)l, l->data ? l->data : "(null)");
			bad = 1;
			continue;
		}
		if (l != s->node[k]) {
			fprintf(stderr, "curl_multi: list %d %s: node %d is %p, was %p\n", i, when, k,
				(const void *)l, (const void *)s->node[k]);
			bad = 1;
		}
		if (l->data != s->data[k]) {
			fprintf(stderr, "curl_multi: list %d %s: node %d data pointer is %p, was %p\n", i,
				when, k, (const void *)l->data, (const void *)s->data[k]);
			bad = 1;
		}
		if (!l->data || strcmp(l->data, s->copy[k]) != 0) {
			fprintf(stderr, "curl_multi: list %d %s: node %d is \"%s\", was \"%s\"\n", i, when,
				k, l->data ? l->data : "(null)", s->copy[k]);
			bad = 1;
		}
	}
	if (l) {
		fprintf(stderr, "curl_multi: list %d %s: more than %d nodes\n", i, when, MAX_NODES);
		bad = 1;
	}
	if (k != s->count) {
		fprintf(stderr, "curl_multi: list %d %s: %d nodes, was %d\n", i, when, k, s->count);
		bad = 1;
	}
	broken |= bad;
}

static void check_all(const char *when)
{
	for (int i = 0; i < nlists; i++)
		check_list(i, when);
}

static size_t on_body(char *p, size_t size, size_t n, void *arg)
{
	struct body *b = arg;
	size_t len = size * n;
	char *q = realloc(b->p, b->len + len + 1);
	if (!q)
		return 0;
	memcpy(q + b->len, p, len);
	b->p = q;
	b->len += len;
	q[b->len] = 0;
	return len;
}

static void json_string(const char *s, size_t len)
{
	putchar('"');
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == '"' || c == '\\')
			printf("\\%c", c);
		else if (c < 0x20 || c >= 0x7f)
			printf("\\u%04x", c);
		else
			putchar(c);
	}
	putchar('"');
}

static void report(const struct xfer *x)
{
	printf("{\"id\": %d, \"url\": ", x->id);
	json_string(x->url, strlen(x->url));
	printf(", \"code\": %ld, \"result\": %d, \"error\": ", x->code, (int)x->result);
	json_string(x->err, strlen(x->err));
	printf(", \"body\": ");
	json_string(x->body.p ? x->body.p : "", x->body.len);
	printf("}\n");
	fflush(stdout);
}

static void setup(struct xfer *x, CURL *h)
{
	curl_easy_setopt(h, CURLOPT_URL, x->url);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, &x->body);
	curl_easy_setopt(h, CURLOPT_ERRORBUFFER, x->err);
	curl_easy_setopt(h, CURLOPT_PRIVATE, x);
	curl_easy_setopt(h, CURLOPT_USERAGENT, "curl_multi-test/1.0");
	curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 0L);
	curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 0L);
	curl_easy_setopt(h, CURLOPT_NOPROXY, "*");
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, 10L);
	curl_easy_setopt(h, CURLOPT_TIMEOUT, 30L);
}

static void finish(struct xfer *x, CURLcode res)
{
	x->result = res;
	x->code = 0;
	curl_easy_getinfo(x->h, CURLINFO_RESPONSE_CODE, &x->code);
	x->done = 1;
}

static void run_multi(void)
{
	CURLM *m = curl_multi_init();
	int running = 0, left = nxf;
	if (!m)
		die("curl_multi_init failed");
	for (int i = 0; i < nurls; i++) {
		xf[i].h = curl_easy_init();
		if (!xf[i].h)
			die("curl_easy_init failed");
		setup(&xf[i], xf[i].h);
		if (xf[i].list)
			curl_easy_setopt(xf[i].h, CURLOPT_HTTPHEADER, xf[i].list);
		if (curl_multi_add_handle(m, xf[i].h) != CURLM_OK)
			die("curl_multi_add_handle failed");
	}
	while (left > 0) {
		CURLMcode mc = curl_multi_perform(m, &running);
		CURLMsg *msg;
		int q;
		if (mc != CURLM_OK)
			die(curl_multi_strerror(mc));
		while ((msg = curl_multi_info_read(m, &q))) {
			struct xfer *x;
			char *priv = NULL;
			if (msg->msg != CURLMSG_DONE)
				continue;
			curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, &priv);
			x = (struct xfer *)priv;
			if (!x || x->done)
				die("curl_multi_info_read: unknown or repeated transfer");
			finish(x, msg->data.result);
			check_all("when a transfer completed");
			if (curl_multi_remove_handle(m, x->h) != CURLM_OK)
				die("curl_multi_remove_handle failed");
			check_all("after curl_multi_remove_handle");
			report(x);
			left--;
			if (x->id <= nurls && nxf > nurls) { /* --again */
				struct xfer *y = &xf[x->id - 1 + nurls];
				y->h = x->h;
				setup(y, y->h);
				if (curl_multi_add_handle(m, y->h) != CURLM_OK)
					die("curl_multi_add_handle failed (again)");
			}
		}
		if (left > 0 && curl_multi_poll(m, NULL, 0, 1000, NULL) != CURLM_OK)
			die("curl_multi_poll failed");
	}
	for (int i = 0; i < nurls; i++)
		curl_easy_cleanup(xf[i].h);
	curl_multi_cleanup(m);
}

static void run_easy(int shared)
{
	CURL *h = curl_easy_init();
	if (!h)
		die("curl_easy_init failed");
	if (shared)
		curl_easy_setopt(h, CURLOPT_HTTPHEADER, lists[0]);
	for (int i = 0; i < nxf; i++) {
		xf[i].h = h;
		setup(&xf[i], h);
		if (!shared)
			curl_easy_setopt(h, CURLOPT_HTTPHEADER, xf[i].list); /* NULL: none */
		finish(&xf[i], curl_easy_perform(h));
		check_all("after curl_easy_perform");
		report(&xf[i]);
	}
	curl_easy_cleanup(h);
}

int main(int argc, char **argv)
{
	int easy = 0, shared = 0, again = 0, i, nodes = 0;
	const char *own[MAX_XFERS + 1] = {0};
	char nolist[MAX_XFERS + 1] = {0};
	char line[256];

	for (i = 1; i < argc && argv[i][0] == '-'; i++) {
		if (strcmp(argv[i], "--easy") == 0) {
			easy = 1;
		} else if (strcmp(argv[i], "--shared") == 0) {
			shared = 1;
		} else if (strcmp(argv[i], "--again") == 0) {
			again = 1;
		} else if (strcmp(argv[i], "--nolist") == 0 && i + 1 < argc) {
			long n = atol(argv[++i]);
			if (n < 1 || n > MAX_XFERS)
				die("--nolist N");
			nolist[n] = 1;
		} else if (strcmp(argv[i], "--own") == 0 && i + 1 < argc) {
			char *end;
			long n = strtol(argv[++i], &end, 10);
			if (*end != '=' || n < 1 || n > MAX_XFERS)
				die("--own N=TRACEPARENT");
			own[n] = end + 1;
		} else {
			die("usage: curl_multi [--easy] [--shared] [--again] [--own N=TRACEPARENT]... "
			    "[--nolist N]... URL...");
		}
	}
	if (i == argc || (argc - i) * (again ? 2 : 1) > MAX_XFERS)
		die("usage: curl_multi [--easy] [--shared] [--again] [--own N=TRACEPARENT]... "
		    "[--nolist N]... URL...");
	if (again && easy)
		die("--again is for the multi interface");
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
		die("curl_global_init failed");

	if (shared) {
		struct curl_slist *l = append(NULL, "X-Test-Id: shared");
		l = append(l, "Accept: text/plain");
		l = append(l, "X-App-Header: value-shared");
		lists[nlists++] = l;
	}
	for (; i < argc; i++) {
		struct xfer *x = &xf[nxf++];
		x->id = nxf;
		x->url = argv[i];
		x->own = own[x->id];
		if (shared) {
			if (x->own || nolist[x->id])
				die("--own and --nolist do not mix with --shared");
			x->list = lists[0];
			continue;
		}
		if (nolist[x->id]) {
			if (x->own)
				die("--own and --nolist do not mix");
			continue;
		}
		snprintf(line, sizeof line, "X-Test-Id: %d", x->id);
		x->list = append(NULL, line);
		if (x->own) {
			snprintf(line, sizeof line, "traceparent: %s", x->own);
			x->list = append(x->list, line);
		}
		x->list = append(x->list, "Accept: text/plain");
		snprintf(line, sizeof line, "X-App-Header: value-%d", x->id);
		x->list = append(x->list, line);
		lists[nlists++] = x->list;
	}
	nurls = nxf;
	for (i = 0; again && i < nurls; i++) {
		struct xfer *x = &xf[nxf++];
		size_t len = strlen(xf[i].url) + sizeof "&again=1";
		char *url = malloc(len);
		if (!url)
			die("out of memory");
		snprintf(url, len, "%s%s", xf[i].url, strchr(xf[i].url, '?') ? "&again=1" : "?again=1");
		x->id = nxf;
		x->url = url;
		x->own = xf[i].own;
		x->list = xf[i].list;
	}
	for (i = 0; i < nlists; i++) {
		take(lists[i], &snaps[i]);
		nodes += snaps[i].count;
	}

	if (easy)
		run_easy(shared);
	else
		run_multi();
	check_all("after curl_easy_cleanup");
	curl_global_cleanup();

	printf("{\"lists_intact\": %s, \"lists\": %d, \"nodes\": %d, \"checks\": %d}\n",
	       broken ? "false" : "true", nlists, nodes, checks);
	for (i = 0; i < nlists; i++) {
		curl_slist_free_all(lists[i]);
		for (int k = 0; k < snaps[i].count; k++)
			free(snaps[i].copy[k]);
	}
	for (i = 0; i < nxf; i++) {
		free(xf[i].body.p);
		if (i >= nurls)
			free((char *)xf[i].url);
	}
	return broken ? 1 : 0;
}
