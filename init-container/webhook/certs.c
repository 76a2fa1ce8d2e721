/*
 * The webhook's certificate and key, reloaded when they change: cert-manager
 * renews the certificate in the Secret, and the kubelet swaps the mounted
 * files (an atomic rename of the ..data symlink), well before the old one
 * expires. The files are compared by stat() through the symlinks; a pair
 * that does not load (a key that does not match the certificate, a file
 * half written by something less careful than the kubelet) leaves the
 * current one in place and is tried again when the files change again.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include <openssl/err.h>
#include <openssl/x509.h>

#include "server.h"

struct file_id {
	dev_t dev;
	ino_t ino;
	off_t size;
	struct timespec mtime;
};

/* Only ctx_lock must be held to read or swap `current`. A connection takes
 * its own reference (SSL_new) under the lock, so a swap never frees a
 * context in use. */
static pthread_mutex_t ctx_lock = PTHREAD_MUTEX_INITIALIZER;
static SSL_CTX *current;

/* The main thread's alone: the paths and the files' identity when last
 * loaded (or last failed, so a bad pair is reported once). */
static const char *cert_path, *key_path;
static struct file_id cert_seen, key_seen;

static bool file_id_get(const char *path, struct file_id *id)
{
	struct stat st;

	if (stat(path, &st) != 0)
		return false;
	memset(id, 0, sizeof *id);
	id->dev = st.st_dev;
	id->ino = st.st_ino;
	id->size = st.st_size;
	id->mtime = st.st_mtim;
	return true;
}

static bool file_id_same(const struct file_id *a, const struct file_id *b)
{
	return a->dev == b->dev && a->ino == b->ino && a->size == b->size &&
	       a->mtime.tv_sec == b->mtime.tv_sec && a->mtime.tv_nsec == b->mtime.tv_nsec;
}

/* The first OpenSSL error, for a message; clears the queue. */
static const char *ssl_reason(char *buf, size_t size)
{
	unsigned long e = ERR_peek_error();

	if (!e) {
		snprintf(buf, size, "%s", errno ? strerror(errno) : "unknown error");
	} else {
		ERR_error_string_n(e, buf, size);
	}
	ERR_clear_error();
	return buf;
}

static SSL_CTX *ctx_new(const char *cert, const char *key, char *why, size_t why_size)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());

	if (!ctx) {
		ssl_reason(why, why_size);
		return NULL;
	}
	/* TLS 1.2 is the oldest the API server speaks; no renegotiation (a
	 * client could make us redo the handshake's work at will), no
	 * server-side session cache (its memory grows with clients; TLS 1.3
	 * tickets resume without it); a client that closes without
	 * close_notify has simply closed. */
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION |
					 SSL_OP_CIPHER_SERVER_PREFERENCE |
					 SSL_OP_IGNORE_UNEXPECTED_EOF);
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
	/* An idle connection gives its record buffers back. */
	SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
	errno = 0;
	if (SSL_CTX_use_certificate_chain_file(ctx, cert) != 1) {
		char r[200];
		snprintf(why, why_size, "cannot load the certificate %s: %s", cert,
			 ssl_reason(r, sizeof r));
		SSL_CTX_free(ctx);
		return NULL;
	}
	errno = 0;
	if (SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1 ||
	    SSL_CTX_check_private_key(ctx) != 1) {
		char r[200];
		snprintf(why, why_size, "cannot use the key %s with %s: %s", key, cert,
			 ssl_reason(r, sizeof r));
		SSL_CTX_free(ctx);
		return NULL;
	}
	return ctx;
}

static void log_loaded(SSL_CTX *ctx, bool reloaded)
{
	X509 *x = SSL_CTX_get0_certificate(ctx);
	char until[64] = "?";
	BIO *b = BIO_new(BIO_s_mem());

	if (x && b && ASN1_TIME_print(b, X509_get0_notAfter(x))) {
		int n = BIO_read(b, until, sizeof until - 1);
		until[n > 0 ? n : 0] = '\0';
	}
	BIO_free(b);
	fprintf(stderr, OP_WH_NAME ": %s certificate %s (valid until %s)\n",
		reloaded ? "reloaded the" : "serving the", cert_path, until);
}

bool op_wh_certs_load(const char *cert, const char *key)
{
	char why[512];
	SSL_CTX *ctx;

	cert_path = cert;
	key_path = key;
	file_id_get(cert, &cert_seen);
	file_id_get(key, &key_seen);
	ctx = ctx_new(cert, key, why, sizeof why);
	if (!ctx) {
		fprintf(stderr, OP_WH_NAME ": %s\n", why);
		return false;
	}
	current = ctx;
	log_loaded(ctx, false);
	return true;
}

void op_wh_certs_check(void)
{
	struct file_id c, k;
	char why[512];
	SSL_CTX *ctx, *old;

	if (!file_id_get(cert_path, &c) || !file_id_get(key_path, &k))
		return; /* in the middle of a swap, or gone: keep what we have */
	if (file_id_same(&c, &cert_seen) && file_id_same(&k, &key_seen))
		return;
	cert_seen = c;
	key_seen = k;
	ctx = ctx_new(cert_path, key_path, why, sizeof why);
	if (!ctx) {
		fprintf(stderr, OP_WH_NAME ": %s; still serving the previous certificate\n", why);
		return;
	}
	pthread_mutex_lock(&ctx_lock);
	old = current;
	current = ctx;
	pthread_mutex_unlock(&ctx_lock);
	SSL_CTX_free(old);
	log_loaded(ctx, true);
}

SSL *op_wh_certs_new_ssl(void)
{
	SSL *ssl;

	pthread_mutex_lock(&ctx_lock);
	ssl = SSL_new(current);
	pthread_mutex_unlock(&ctx_lock);
	return ssl;
}
