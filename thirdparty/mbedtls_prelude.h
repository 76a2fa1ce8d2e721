/* Force-included wherever the bundled mbedTLS headers are used. */
#define MBEDTLS_USER_CONFIG_FILE "op_mbedtls_config.h"
