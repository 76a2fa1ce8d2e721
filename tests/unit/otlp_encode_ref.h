/*
 * The protobuf-c OTLP encoder kept as a test oracle (otlp_encode_ref.c).
 * Same contract as op_otlp_encode().
 */
#ifndef OP_TEST_OTLP_ENCODE_REF_H
#define OP_TEST_OTLP_ENCODE_REF_H

#include <stddef.h>
#include <stdint.h>

#include "preload/resource.h"
#include "preload/span.h"

int op_otlp_encode_ref(struct op_span *const *spans, size_t n, const struct op_resource *res,
		       uint8_t **out, size_t *out_len);

/*
 * Same as op_otlp_encode_into(), with scratch buffers of the program's own
 * (single-threaded use), released by op_otlp_encode_ref_free().
 */
int op_otlp_encode_ref_into(struct op_span *const *spans, size_t n, const struct op_resource *res,
			    const uint8_t **out, size_t *out_len);
void op_otlp_encode_ref_free(void);

#endif
