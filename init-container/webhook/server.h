/*
 * otelpreload-webhook, the admission webhook's HTTPS server: what its four
 * files share. server.c owns the process (options, the listener, the table
 * of connections, signals), certs.c the TLS certificate and its reloading,
 * conn.c one connection's TLS and HTTP/1.1 requests, namespaces.c the
 * namespace annotations it reads from the Kubernetes API.
 *
 * One thread per connection, with a bounded number of connections and a
 * deadline on every phase of a request: a client can hold at most one slot
 * and only for a bounded time, and when the table is full a new connection
 * displaces an idle one or one that is stuck in its handshake or head.
 */
#ifndef OP_WH_SERVER_H
#define OP_WH_SERVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/ssl.h>

#include "mutate.h"

#define OP_WH_NAME "otelpreload-webhook"

/* Deadlines, in milliseconds. The API server's own limit for one call is
 * the configuration's timeoutSeconds (5 s in deploy/), so nothing a real
 * caller does comes near them; they only bound what a slow or hostile
 * client can hold. */
#define OP_WH_HANDSHAKE_MS 5000  /* TCP accept to the end of the TLS handshake */
#define OP_WH_HEAD_MS 10000      /* first byte of a request to the end of its head */
#define OP_WH_BODY_MS 10000      /* end of the head to the end of the body */
#define OP_WH_WRITE_MS 10000     /* writing one response */
/* A kept-alive connection may wait this long for its next request. Longer
 * than the 90 s after which Go's HTTP client (the API server's) drops an
 * idle connection, so the client, not the server, closes it: a request
 * never races the server's close. */
#define OP_WH_IDLE_MS 120000
/* A connection that has spent this long in its handshake or request head is
 * slow (a real client sends either in one round trip): it may be displaced
 * when the table is full. */
#define OP_WH_SLOW_MS 1000

/* What the command line configures. */
struct op_wh_config {
	struct op_k8s_options k8s;
	/* The Kubernetes API, for namespace annotations (namespaces.c):
	 * "https://HOST:PORT", "off", or NULL for the in-cluster address
	 * (KUBERNETES_SERVICE_HOST, KUBERNETES_SERVICE_PORT). */
	const char *kube_api;
	const char *kube_token;  /* the service account's token file */
	const char *kube_ca;     /* the CA bundle that signs the API server's certificate */
	const char *listen;
	const char *cert_path;
	const char *key_path;
	const char *port_file;
	size_t max_body;
	unsigned max_conns;
	unsigned shutdown_delay_s;
};

extern struct op_wh_config op_wh_cfg;

/* What a connection is doing, for the table: who may be displaced, who is
 * in the middle of a request at shutdown. */
enum op_wh_phase {
	OP_WH_HANDSHAKE,
	OP_WH_IDLE,     /* between requests */
	OP_WH_HEAD,     /* reading a request head */
	OP_WH_WORKING,  /* reading the body, mutating, answering */
	OP_WH_EVICTED,  /* shut down by the server; its thread is closing it */
};

struct op_wh_conn {
	int fd;
	/* Only the table's lock (server.c) must be held to read or write
	 * these two; the connection's thread is the only one that closes fd,
	 * and it does so with the lock held, so another thread holding the
	 * lock may shutdown() fd. */
	enum op_wh_phase phase;
	int64_t phase_since_ms;
	char peer[64];  /* "ADDR:PORT" for the log */
};

int64_t op_wh_now_ms(void);

/* server.c: the table. op_wh_phase() moves the connection to a new phase
 * and returns false when the server has displaced it or is shutting down
 * and `phase` is OP_WH_IDLE (the caller then closes). op_wh_conn_done()
 * closes the fd and frees the connection. */
bool op_wh_phase(struct op_wh_conn *c, enum op_wh_phase phase);
bool op_wh_evicted(struct op_wh_conn *c);
void op_wh_conn_done(struct op_wh_conn *c);
/* Whether the server is draining (SIGTERM received): /readyz fails and
 * responses close their connection. */
bool op_wh_draining(void);
/* Reserves `n` bytes of the memory all request bodies share; false when
 * they would not fit (the request is then refused with 503). */
bool op_wh_reserve_body(size_t n);
void op_wh_release_body(size_t n);

/* certs.c. op_wh_certs_load() loads the pair at start-up (false, with a
 * message, when it cannot); op_wh_certs_check() reloads it when either file
 * has changed since (called about once a second by the main thread);
 * op_wh_certs_new_ssl() makes a connection's SSL from the current pair. */
bool op_wh_certs_load(const char *cert, const char *key);
void op_wh_certs_check(void);
SSL *op_wh_certs_new_ssl(void);

/* namespaces.c: the otelpreload.dev/inject annotation of a namespace, read
 * from the Kubernetes API and cached. op_wh_ns_init() is called once by the
 * main thread before any connection thread starts; it decides whether the
 * API is used at all and logs the decision. op_wh_ns_annotations() then
 * writes the namespace's annotations (a JSON object of at most
 * OP_WH_NS_ANN_MAX bytes with the one annotation op_k8s_review() reads from
 * a namespace) into <out, size> and returns true; false when they are not
 * known (the API unused, slow or failing), which the caller takes as "no
 * annotations". It may block for about OP_WH_NS_FETCH_MS. Thread-safe. */
/* Where the kubelet mounts the service account's token and CA. */
#define OP_WH_SA_DIR "/var/run/secrets/kubernetes.io/serviceaccount/"
#define OP_WH_NS_ANN_MAX 48
/* A whole fetch, connection included. The API server gives the review
 * timeoutSeconds (5 s in deploy/) in all; this leaves it more than half for
 * the rest, and a slow API a fair chance. */
#define OP_WH_NS_FETCH_MS 2000
bool op_wh_ns_init(void);
bool op_wh_ns_enabled(void);
bool op_wh_ns_annotations(const char *ns, char *out, size_t size);
void op_wh_ns_cleanup(void);

/* conn.c: serves one accepted connection until it closes; the thread's
 * start routine. Takes ownership of `arg` (a struct op_wh_conn). */
void *op_wh_serve(void *arg);

#endif
