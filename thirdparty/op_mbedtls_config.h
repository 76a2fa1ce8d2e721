/*
 * The bundled mbedTLS's settings on top of its default config.h (included
 * there as MBEDTLS_USER_CONFIG_FILE, through mbedtls_prelude.h). The same
 * settings must reach every file that includes an mbedTLS header, which is
 * why the prelude is force-included in the bundled libcurl too.
 */

/*
 * Entropy from the getrandom system call (mbedtls_entropy.c) and nothing
 * else: the platform source reads /dev/urandom on musl, and a container
 * may have no /dev at all.
 */
#define MBEDTLS_NO_PLATFORM_ENTROPY
#define MBEDTLS_ENTROPY_HARDWARE_ALT

/* A TLS client only: libcurl brings its own sockets. */
#undef MBEDTLS_SSL_SRV_C
#undef MBEDTLS_SSL_CACHE_C
#undef MBEDTLS_SSL_COOKIE_C
#undef MBEDTLS_SSL_TICKET_C
#undef MBEDTLS_NET_C
#undef MBEDTLS_TIMING_C
#undef MBEDTLS_SELF_TEST
#undef MBEDTLS_DEBUG_C

/* Nothing the exporter's TLS client uses: less to compile four times. */
#undef MBEDTLS_PSA_CRYPTO_C
#undef MBEDTLS_PSA_CRYPTO_STORAGE_C
#undef MBEDTLS_PSA_ITS_FILE_C
#undef MBEDTLS_SSL_PROTO_DTLS
#undef MBEDTLS_SSL_DTLS_ANTI_REPLAY
#undef MBEDTLS_SSL_DTLS_HELLO_VERIFY
#undef MBEDTLS_SSL_DTLS_CLIENT_PORT_REUSE
#undef MBEDTLS_SSL_DTLS_BADMAC_LIMIT
#undef MBEDTLS_CAMELLIA_C
#undef MBEDTLS_ARIA_C
#undef MBEDTLS_BLOWFISH_C
#undef MBEDTLS_XTEA_C
#undef MBEDTLS_RIPEMD160_C
#undef MBEDTLS_ECJPAKE_C
#undef MBEDTLS_NIST_KW_C
#undef MBEDTLS_PKCS12_C
#undef MBEDTLS_CERTS_C
#undef MBEDTLS_VERSION_FEATURES
#undef MBEDTLS_X509_CSR_PARSE_C
#undef MBEDTLS_X509_CSR_WRITE_C
#undef MBEDTLS_X509_CRT_WRITE_C
#undef MBEDTLS_X509_CREATE_C
#undef MBEDTLS_PEM_WRITE_C
