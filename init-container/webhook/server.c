/*
 * otelpreload-webhook: the mutating admission webhook's HTTPS server. It
 * answers the API server's AdmissionReview requests for new pods with the
 * JSONPatch of op_k8s_review() (mutate.h), which adds the init container
 * that copies libotelpreload.so into the pod, its volume, and the mount and
 * environment of the selected containers.
 *
 * This file: the command line, the listener, the table of connections, the
 * signals and the shutdown. conn.c serves one connection, certs.c keeps the
 * certificate current, namespaces.c reads namespace annotations.
 */
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <netdb.h>
#include <pthread.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include "server.h"

#ifndef OP_VERSION
#define OP_VERSION "0.0.0-dev"
#endif

#define EXIT_USAGE 2

/* --max-body's default. The API server takes no request body over 3 MiB
 * (its MaxRequestBodyBytes), so no pod it admits makes a larger review than
 * that plus the review's envelope; and the ceiling an operator may set,
 * beyond which a body is no pod at all. */
#define DEFAULT_MAX_BODY (4u << 20)
#define MAX_BODY_CEILING (64u << 20)
/* All bodies being read or mutated at once share this many times
 * --max-body, so the process's memory is bounded whatever clients send: a
 * real review is a few KiB, and only many large bodies at once hit it. */
#define BODY_BUDGET_FACTOR 8
/* --max-connections' default and ceiling. Each connection is a thread
 * (THREAD_STACK of address space, a few KiB resident) and a TLS session;
 * the API server needs a handful per replica. */
#define DEFAULT_MAX_CONNS 128
#define MAX_CONNS_CEILING 4096
/* The mutation's JSON code recurses over nesting it bounds; 512 KiB leaves
 * it and OpenSSL ample room. */
#define THREAD_STACK (512u << 10)
/* A new connection that finds the table full waits this long for the
 * connection it displaced to close. */
#define EVICT_WAIT_MS 200
/* At most one "refused" log line this often while the table stays full. */
#define REFUSE_LOG_MS 1000
/* Out of descriptors or memory, accepting pauses this long rather than
 * spin on a listener that stays readable. */
#define ACCEPT_PAUSE_MS 100
/* Descriptors besides the connections': stdio, the listener, the signalfd,
 * the certificate files while they load. */
#define SPARE_FDS 16
/* How often the certificate files are looked at. */
#define CERT_CHECK_MS 1000
/* --kube-api's longest value: an address and port, perhaps a path prefix. */
#define KUBE_API_MAX 256
/* --shutdown-delay's ceiling: a pod's terminationGracePeriodSeconds has
 * to cover it and the deadlines of the requests in flight. */
#define MAX_SHUTDOWN_DELAY_S 300

struct op_wh_config op_wh_cfg = {
	.k8s = {
		.volume_size_limit = "200Mi",
		.mount_path = "/otelpreload",
	},
	.listen = "0.0.0.0:8443",
	.cert_path = "/etc/otelpreload-webhook/tls/tls.crt",
	.key_path = "/etc/otelpreload-webhook/tls/tls.key",
	.max_body = DEFAULT_MAX_BODY,
	.max_conns = DEFAULT_MAX_CONNS,
};

/* The table of connections. Only `table_lock` must be held to read or
 * write any of these or the phase fields of a connection; `table_cv` is
 * signalled when a connection leaves the table. */
static pthread_mutex_t table_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t table_cv;
static struct op_wh_conn **table;
static unsigned active;
static bool stopping;  /* no longer accepting: idle connections close */
static size_t body_reserved, body_budget;
/* Set once by the main thread when SIGTERM comes and read by every
 * connection; relaxed loads suffice, as a stale value only delays one close
 * by one request. */
static atomic_bool draining;

static const char usage_text[] =
	"usage: otelpreload-webhook [OPTIONS]\n"
	"       otelpreload-webhook --help | --version\n";

static const char help_text[] =
	"\n"
	"The mutating admission webhook of otelpreload: serves AdmissionReview v1\n"
	"over HTTPS and patches pods annotated otelpreload.dev/inject: \"true\" with\n"
	"an init container that copies libotelpreload.so into an emptyDir, the\n"
	"volume, and the mount and LD_PRELOAD/OTEL_* environment of the selected\n"
	"containers. Any error in the mutation still answers allowed: true.\n"
	"\n"
	"  POST /mutate            pods that carry the annotation, or whose\n"
	"                          namespace does (read from the Kubernetes API)\n"
	"  POST /mutate-namespace  pods of a namespace labelled\n"
	"                          otelpreload.dev/inject=true\n"
	"  GET  /healthz, /readyz  probes (/readyz fails once SIGTERM has come)\n"
	"\n"
	"Options:\n"
	"  --image IMAGE             the init container image (default\n"
	"                            " OP_K8S_DEFAULT_IMAGE ")\n"
	"  --image-pull-policy P     Always, IfNotPresent or Never (default: the\n"
	"                            cluster's)\n"
	"  --mount-path PATH         where the library appears in the containers\n"
	"                            (default /otelpreload)\n"
	"  --size-limit QUANTITY     the emptyDir's sizeLimit (default 200Mi)\n"
	"  --endpoint URL            OTEL_EXPORTER_OTLP_ENDPOINT for pods without\n"
	"                            an otelpreload.dev/endpoint annotation\n"
	"  --listen ADDR:PORT        default 0.0.0.0:8443; [::]:8443 for IPv6,\n"
	"                            port 0 for any free port\n"
	"  --port-file PATH          write the port listened on to PATH\n"
	"  --tls-cert PATH           default /etc/otelpreload-webhook/tls/tls.crt\n"
	"  --tls-key PATH            default /etc/otelpreload-webhook/tls/tls.key\n"
	"                            (both reloaded when they change)\n"
	"  --max-body SIZE           largest request body, bytes or with Ki/Mi\n"
	"                            (default 4Mi: the API server sends no larger\n"
	"                            review; at most 64Mi); larger ones get 413\n"
	"  --max-connections N       connections served at once (default 128)\n"
	"  --shutdown-delay SECONDS  after SIGTERM, keep serving this long with\n"
	"                            /readyz failing, so the Service stops sending\n"
	"                            before the listener closes (default 0)\n"
	"  --kube-api URL|off        the Kubernetes API for namespace annotations\n"
	"                            (default https://$KUBERNETES_SERVICE_HOST:\n"
	"                            $KUBERNETES_SERVICE_PORT; none outside a\n"
	"                            cluster); off: never read them\n"
	"  --kube-token PATH         the service account token, read again for\n"
	"                            each request (default: token in the\n"
	"                            in-cluster directory below)\n"
	"  --kube-ca PATH            the only CA trusted for the API server\n"
	"                            (default: ca.crt in the in-cluster directory,\n"
	"                            " OP_WH_SA_DIR ")\n"
	"\n"
	"Empty values of the optional settings mean unset. One line per request\n"
	"goes to stderr. SIGTERM or SIGINT: stop accepting, finish the requests\n"
	"in flight, exit 0.\n";

__attribute__((format(printf, 1, 2), noreturn))
static void usage_error(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, OP_WH_NAME ": ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\n%s", usage_text);
	exit(EXIT_USAGE);
}

/* A size in bytes, with an optional Ki, Mi or Gi suffix. */
static bool parse_size(const char *s, size_t *out)
{
	char *end;
	unsigned long long v;

	if (*s < '0' || *s > '9')
		return false;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno)
		return false;
	if (strcmp(end, "Ki") == 0)
		v <<= 10;
	else if (strcmp(end, "Mi") == 0)
		v <<= 20;
	else if (strcmp(end, "Gi") == 0)
		v = v > (1ull << 34) ? ~0ull : v << 30;
	else if (*end)
		return false;
	*out = v > (size_t)-1 ? (size_t)-1 : (size_t)v;
	return true;
}

/* No whitespace or control characters: the value goes into the pod. */
static bool is_plain(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s <= 0x20 || *s == 0x7f)
			return false;
	return true;
}

static const char *optional(const char *s)
{
	return s && *s ? s : NULL;
}

/* --listen, resolved by parse_args(). */
static struct addrinfo *listen_ai;

/* Parses --listen: "ADDR:PORT", "[ADDR]:PORT" or ":PORT" (every IPv4
 * address). Numeric addresses only: a name would be resolved once, at
 * start-up, which is rarely what is meant. */
static void parse_listen(const char *spec)
{
	char host[INET6_ADDRSTRLEN + 2];
	const char *colon = strrchr(spec, ':'), *h = spec;
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM,
				  .ai_flags = AI_NUMERICHOST | AI_NUMERICSERV | AI_PASSIVE };
	size_t hlen;

	if (!colon || !colon[1])
		usage_error("--listen=%s is not ADDR:PORT", spec);
	hlen = (size_t)(colon - spec);
	if (hlen >= 2 && h[0] == '[' && h[hlen - 1] == ']') {
		h++;
		hlen -= 2;
	}
	if (hlen >= sizeof host)
		usage_error("--listen=%s is not ADDR:PORT with a numeric address", spec);
	memcpy(host, h, hlen);
	host[hlen] = '\0';
	if (getaddrinfo(hlen ? host : "0.0.0.0", colon + 1, &hints, &listen_ai) != 0 || !listen_ai)
		usage_error("--listen=%s is not ADDR:PORT with a numeric address", spec);
}

static void parse_args(int argc, char **argv)
{
	enum {
		O_IMAGE = 256, O_PULL, O_MOUNT, O_SIZE, O_ENDPOINT, O_LISTEN, O_PORT_FILE,
		O_CERT, O_KEY, O_MAX_BODY, O_MAX_CONNS, O_DELAY, O_KUBE_API, O_KUBE_TOKEN,
		O_KUBE_CA, O_HELP, O_VERSION,
	};
	static const struct option opts[] = {
		{ "image", required_argument, NULL, O_IMAGE },
		{ "image-pull-policy", required_argument, NULL, O_PULL },
		{ "mount-path", required_argument, NULL, O_MOUNT },
		{ "size-limit", required_argument, NULL, O_SIZE },
		{ "endpoint", required_argument, NULL, O_ENDPOINT },
		{ "listen", required_argument, NULL, O_LISTEN },
		{ "port-file", required_argument, NULL, O_PORT_FILE },
		{ "tls-cert", required_argument, NULL, O_CERT },
		{ "tls-key", required_argument, NULL, O_KEY },
		{ "max-body", required_argument, NULL, O_MAX_BODY },
		{ "max-connections", required_argument, NULL, O_MAX_CONNS },
		{ "shutdown-delay", required_argument, NULL, O_DELAY },
		{ "kube-api", required_argument, NULL, O_KUBE_API },
		{ "kube-token", required_argument, NULL, O_KUBE_TOKEN },
		{ "kube-ca", required_argument, NULL, O_KUBE_CA },
		{ "help", no_argument, NULL, O_HELP },
		{ "version", no_argument, NULL, O_VERSION },
		{ NULL, 0, NULL, 0 },
	};
	struct op_wh_config *c = &op_wh_cfg;
	const char *msg;
	char buf[256];
	int o;

	opterr = 0;
	while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		char *end;
		unsigned long n;

		switch (o) {
		case O_IMAGE:
			c->k8s.image = optional(optarg);
			break;
		case O_PULL:
			c->k8s.image_pull_policy = optional(optarg);
			break;
		case O_MOUNT:
			c->k8s.mount_path = optarg;
			break;
		case O_SIZE:
			c->k8s.volume_size_limit = optarg;
			break;
		case O_ENDPOINT:
			c->k8s.default_endpoint = optional(optarg);
			break;
		case O_LISTEN:
			c->listen = optarg;
			break;
		case O_PORT_FILE:
			c->port_file = optional(optarg);
			break;
		case O_CERT:
			c->cert_path = optarg;
			break;
		case O_KEY:
			c->key_path = optarg;
			break;
		case O_MAX_BODY:
			if (!parse_size(optarg, &c->max_body) || c->max_body > MAX_BODY_CEILING)
				usage_error("--max-body=%s is not a size from 0 to 64Mi", optarg);
			break;
		case O_MAX_CONNS:
			errno = 0;
			n = strtoul(optarg, &end, 10);
			if (errno || *end || end == optarg || n < 1 || n > MAX_CONNS_CEILING)
				usage_error("--max-connections=%s is not a number from 1 to 4096",
					    optarg);
			c->max_conns = (unsigned)n;
			break;
		case O_DELAY:
			errno = 0;
			n = strtoul(optarg, &end, 10);
			if (errno || *end || end == optarg || n > MAX_SHUTDOWN_DELAY_S)
				usage_error("--shutdown-delay=%s is not a number of seconds from 0 "
					    "to 300", optarg);
			c->shutdown_delay_s = (unsigned)n;
			break;
		case O_KUBE_API:
			c->kube_api = optional(optarg);
			if (c->kube_api && strcmp(c->kube_api, "off") &&
			    (strncmp(c->kube_api, "https://", 8) || !c->kube_api[8] ||
			     !is_plain(c->kube_api) || strlen(c->kube_api) > KUBE_API_MAX))
				usage_error("--kube-api=%s is not an https:// URL or off", optarg);
			break;
		case O_KUBE_TOKEN:
			c->kube_token = optional(optarg);
			break;
		case O_KUBE_CA:
			c->kube_ca = optional(optarg);
			break;
		case O_HELP:
			printf("%s%s", usage_text, help_text);
			exit(0);
		case O_VERSION:
			printf(OP_WH_NAME " %s\n", OP_VERSION);
			exit(0);
		default:
			usage_error("%s: unknown option or missing value",
				    argv[optind - 1] ? argv[optind - 1] : "?");
		}
	}
	if (optind < argc)
		usage_error("%s: unexpected argument", argv[optind]);
	parse_listen(c->listen);
	msg = op_k8s_options_check(&c->k8s, buf, sizeof buf);
	if (msg)
		usage_error("%s", msg);
	if (c->k8s.default_endpoint && !is_plain(c->k8s.default_endpoint))
		usage_error("--endpoint=%s has whitespace or control characters",
			    c->k8s.default_endpoint);
}

/* Every connection needs a descriptor: raise the soft limit toward the hard
 * one when --max-connections needs it. */
static void raise_fd_limit(void)
{
	struct rlimit rl;
	rlim_t need = (rlim_t)op_wh_cfg.max_conns + SPARE_FDS;

	if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur >= need)
		return;
	rl.rlim_cur = rl.rlim_max == RLIM_INFINITY || rl.rlim_max >= need ? need : rl.rlim_max;
	setrlimit(RLIMIT_NOFILE, &rl);
	if (rl.rlim_cur < need)
		fprintf(stderr,
			OP_WH_NAME ": --max-connections=%u needs %lu descriptors; the limit is %lu\n",
			op_wh_cfg.max_conns, (unsigned long)need, (unsigned long)rl.rlim_cur);
}

/* Binds and listens on --listen. */
static int listen_on(void)
{
	struct addrinfo *ai = listen_ai;
	int fd, one = 1;

	fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0 ||
	    bind(fd, ai->ai_addr, ai->ai_addrlen) != 0 || listen(fd, SOMAXCONN) != 0) {
		fprintf(stderr, OP_WH_NAME ": cannot listen on --listen=%s: %s\n", op_wh_cfg.listen,
			strerror(errno));
		exit(1);
	}
	freeaddrinfo(ai);
	listen_ai = NULL;
	return fd;
}

static unsigned bound_port(int fd)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof ss;

	if (getsockname(fd, (struct sockaddr *)&ss, &len) != 0)
		return 0;
	return ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
					      : ((struct sockaddr_in *)&ss)->sin_port);
}

/* Writes the port to --port-file, whole or not at all (a rename), for
 * tests that listen on port 0. */
static void write_port_file(int fd)
{
	char tmp[4096];
	unsigned port = bound_port(fd);
	FILE *f;

	if (!op_wh_cfg.port_file)
		return;
	snprintf(tmp, sizeof tmp, "%s.tmp", op_wh_cfg.port_file);
	f = fopen(tmp, "w");
	if (!f || fprintf(f, "%u\n", port) < 0 || fclose(f) != 0 ||
	    rename(tmp, op_wh_cfg.port_file) != 0) {
		fprintf(stderr, OP_WH_NAME ": cannot write --port-file=%s: %s\n",
			op_wh_cfg.port_file, strerror(errno));
		exit(1);
	}
}

static void peer_name(const struct sockaddr_storage *ss, char *out, size_t size)
{
	char addr[INET6_ADDRSTRLEN] = "?";

	if (ss->ss_family == AF_INET6) {
		const struct sockaddr_in6 *a = (const void *)ss;
		inet_ntop(AF_INET6, &a->sin6_addr, addr, sizeof addr);
		snprintf(out, size, "[%s]:%u", addr, ntohs(a->sin6_port));
	} else {
		const struct sockaddr_in *a = (const void *)ss;
		inet_ntop(AF_INET, &a->sin_addr, addr, sizeof addr);
		snprintf(out, size, "%s:%u", addr, ntohs(a->sin_port));
	}
}

bool op_wh_phase(struct op_wh_conn *c, enum op_wh_phase phase)
{
	bool ok;

	pthread_mutex_lock(&table_lock);
	ok = c->phase != OP_WH_EVICTED && !(phase == OP_WH_IDLE && stopping);
	if (ok) {
		c->phase = phase;
		c->phase_since_ms = op_wh_now_ms();
	}
	pthread_mutex_unlock(&table_lock);
	return ok;
}

bool op_wh_evicted(struct op_wh_conn *c)
{
	bool e;

	pthread_mutex_lock(&table_lock);
	e = c->phase == OP_WH_EVICTED;
	pthread_mutex_unlock(&table_lock);
	return e;
}

void op_wh_conn_done(struct op_wh_conn *c)
{
	unsigned i;

	pthread_mutex_lock(&table_lock);
	close(c->fd);
	for (i = 0; i < op_wh_cfg.max_conns; i++) {
		if (table[i] == c) {
			table[i] = NULL;
			active--;
			break;
		}
	}
	pthread_cond_broadcast(&table_cv);
	pthread_mutex_unlock(&table_lock);
	free(c);
}

bool op_wh_draining(void)
{
	return atomic_load_explicit(&draining, memory_order_relaxed);
}

bool op_wh_reserve_body(size_t n)
{
	bool ok;

	pthread_mutex_lock(&table_lock);
	ok = n <= body_budget - body_reserved;
	if (ok)
		body_reserved += n;
	pthread_mutex_unlock(&table_lock);
	return ok;
}

void op_wh_release_body(size_t n)
{
	pthread_mutex_lock(&table_lock);
	body_reserved -= n;
	pthread_mutex_unlock(&table_lock);
}

/* With table_lock held: shuts down `c` so its thread closes it. */
static void evict(struct op_wh_conn *c)
{
	shutdown(c->fd, SHUT_RDWR);
	c->phase = OP_WH_EVICTED;
}

/* With table_lock held, the table full: the connection to displace, the
 * longest idle one, else the one longest in its handshake or head if that
 * is over OP_WH_SLOW_MS; NULL if every connection is doing real work. */
static struct op_wh_conn *pick_victim(int64_t now)
{
	struct op_wh_conn *idle = NULL, *slow = NULL;
	unsigned i;

	for (i = 0; i < op_wh_cfg.max_conns; i++) {
		struct op_wh_conn *c = table[i];

		if (!c)
			continue;
		if (c->phase == OP_WH_IDLE) {
			if (!idle || c->phase_since_ms < idle->phase_since_ms)
				idle = c;
		} else if ((c->phase == OP_WH_HANDSHAKE || c->phase == OP_WH_HEAD) &&
			   now - c->phase_since_ms >= OP_WH_SLOW_MS) {
			if (!slow || c->phase_since_ms < slow->phase_since_ms)
				slow = c;
		}
	}
	return idle ? idle : slow;
}

/* Takes a newly accepted connection into the table and starts its thread,
 * or closes it when the table stays full. */
static void admit(int fd, const struct sockaddr_storage *ss, const pthread_attr_t *attr)
{
	static int64_t refused_logged_ms;
	static unsigned refused;
	struct op_wh_conn *c = calloc(1, sizeof *c);
	int64_t now = op_wh_now_ms();
	unsigned i;
	pthread_t th;

	if (!c) {
		close(fd);
		return;
	}
	c->fd = fd;
	peer_name(ss, c->peer, sizeof c->peer);

	pthread_mutex_lock(&table_lock);
	if (active >= op_wh_cfg.max_conns) {
		struct op_wh_conn *victim = pick_victim(now);
		struct timespec until;

		if (victim) {
			evict(victim);
			clock_gettime(CLOCK_MONOTONIC, &until);
			until.tv_nsec += EVICT_WAIT_MS * 1000000L;
			until.tv_sec += until.tv_nsec / 1000000000L;
			until.tv_nsec %= 1000000000L;
			while (active >= op_wh_cfg.max_conns &&
			       pthread_cond_timedwait(&table_cv, &table_lock, &until) == 0)
				;
		}
	}
	if (active >= op_wh_cfg.max_conns) {
		pthread_mutex_unlock(&table_lock);
		close(fd);
		refused++;
		if (now - refused_logged_ms >= REFUSE_LOG_MS) {
			fprintf(stderr,
				OP_WH_NAME ": refused %u connection(s): all --max-connections=%u "
				"are busy\n", refused, op_wh_cfg.max_conns);
			refused = 0;
			refused_logged_ms = now;
		}
		free(c);
		return;
	}
	for (i = 0; table[i]; i++)
		;
	table[i] = c;
	active++;
	c->phase = OP_WH_HANDSHAKE;
	c->phase_since_ms = now;
	pthread_mutex_unlock(&table_lock);

	if (pthread_create(&th, attr, op_wh_serve, c) != 0) {
		fprintf(stderr, OP_WH_NAME ": %s: cannot start a thread: %s\n", c->peer,
			strerror(errno));
		op_wh_conn_done(c);
	}
}

/* Stops taking connections: idle ones and those still in their handshake
 * are shut down, the others finish their request and close. Returns once
 * every connection has closed; the deadlines of server.h bound the wait. */
static void stop(void)
{
	unsigned i;

	pthread_mutex_lock(&table_lock);
	stopping = true;
	for (i = 0; i < op_wh_cfg.max_conns; i++) {
		struct op_wh_conn *c = table[i];

		if (c && (c->phase == OP_WH_IDLE || c->phase == OP_WH_HANDSHAKE))
			evict(c);
	}
	if (active > 0)
		fprintf(stderr, OP_WH_NAME ": waiting for %u connection(s) to finish\n", active);
	while (active > 0)
		pthread_cond_wait(&table_cv, &table_lock);
	pthread_mutex_unlock(&table_lock);
}

int main(int argc, char **argv)
{
	sigset_t sigs;
	struct sigaction ign = { .sa_handler = SIG_IGN };
	pthread_attr_t attr;
	pthread_condattr_t ca;
	int lfd, sfd;
	int64_t last_check = 0, stop_at = 0, accept_after = 0;

	parse_args(argc, argv);

	/* A peer that resets mid-write must not kill the process. */
	sigaction(SIGPIPE, &ign, NULL);
	/* Blocked here, so every thread inherits the mask and only the
	 * signalfd sees them. */
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGINT);
	pthread_sigmask(SIG_BLOCK, &sigs, NULL);
	sfd = signalfd(-1, &sigs, SFD_NONBLOCK | SFD_CLOEXEC);
	if (sfd < 0) {
		fprintf(stderr, OP_WH_NAME ": signalfd: %s\n", strerror(errno));
		return 1;
	}

	if (!op_wh_certs_load(op_wh_cfg.cert_path, op_wh_cfg.key_path) || !op_wh_ns_init())
		return 1;
	table = calloc(op_wh_cfg.max_conns, sizeof *table);
	if (!table) {
		fprintf(stderr, OP_WH_NAME ": out of memory for --max-connections=%u\n",
			op_wh_cfg.max_conns);
		return 1;
	}
	body_budget = op_wh_cfg.max_body * BODY_BUDGET_FACTOR;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&table_cv, &ca);
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	pthread_attr_setstacksize(&attr, THREAD_STACK);

	raise_fd_limit();
	lfd = listen_on();
	write_port_file(lfd);
	fprintf(stderr, OP_WH_NAME " %s: listening on %s (port %u), injecting %s\n", OP_VERSION,
		op_wh_cfg.listen, bound_port(lfd),
		op_wh_cfg.k8s.image ? op_wh_cfg.k8s.image : OP_K8S_DEFAULT_IMAGE);

	for (;;) {
		struct pollfd p[2] = { { .fd = sfd, .events = POLLIN },
				       { .fd = lfd, .events = POLLIN } };
		int64_t now = op_wh_now_ms();
		bool accepting = now >= accept_after;

		if (poll(p, accepting ? 2 : 1, accepting ? CERT_CHECK_MS : ACCEPT_PAUSE_MS) < 0 &&
		    errno != EINTR) {
			fprintf(stderr, OP_WH_NAME ": poll: %s\n", strerror(errno));
			return 1;
		}
		now = op_wh_now_ms();
		if (p[0].revents & POLLIN) {
			struct signalfd_siginfo si;

			while (read(sfd, &si, sizeof si) == sizeof si) {
				if (!op_wh_draining()) {
					atomic_store_explicit(&draining, true,
							      memory_order_relaxed);
					stop_at = now + op_wh_cfg.shutdown_delay_s * 1000LL;
					fprintf(stderr,
						OP_WH_NAME ": signal %u: /readyz fails; stopping in "
						"%u s\n", si.ssi_signo, op_wh_cfg.shutdown_delay_s);
				} else {
					stop_at = now; /* a second signal: no more delay */
				}
			}
		}
		if (op_wh_draining() && now >= stop_at)
			break;
		if (accepting && (p[1].revents & POLLIN)) {
			/* One pass over the backlog per wake-up, bounded so
			 * signals and certificate checks are not starved. */
			for (unsigned n = 0; n < 64; n++) {
				struct sockaddr_storage ss;
				socklen_t len = sizeof ss;
				int fd = accept4(lfd, (struct sockaddr *)&ss, &len,
						 SOCK_NONBLOCK | SOCK_CLOEXEC);

				if (fd < 0) {
					if (errno == EMFILE || errno == ENFILE || errno == ENOMEM ||
					    errno == ENOBUFS) {
						fprintf(stderr, OP_WH_NAME ": accept: %s\n",
							strerror(errno));
						accept_after = now + ACCEPT_PAUSE_MS;
					}
					break;
				}
				admit(fd, &ss, &attr);
			}
		}
		if (now - last_check >= CERT_CHECK_MS) {
			op_wh_certs_check();
			last_check = now;
		}
	}
	close(lfd);
	stop();
	op_wh_ns_cleanup();
	fprintf(stderr, OP_WH_NAME ": stopped\n");
	return 0;
}
