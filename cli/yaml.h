/*
 * YAML manifests to and from the JSON tree of init-container/webhook/json.h,
 * with libyaml, for `otelpreload inject`.
 *
 * Reading resolves plain scalars the way YAML's JSON schema does (null,
 * true/false, JSON numbers); every other scalar is a string. Each value
 * keeps the style it was written in (json.h's `style`), so writing the
 * tree back keeps "8080" quoted, `yes` plain (whatever the consumer makes
 * of it, it makes the same of our output) and block scalars as blocks.
 * Strings the mutation adds are quoted when a YAML 1.1 reader (Kubernetes'
 * go-yaml) could take them for anything but a string.
 *
 * Not kept: comments, anchors and aliases (an alias becomes a copy of what
 * it names), the document markers and indentation of the input (output is
 * indented by 2, sequences in mappings not indented, as kubectl writes it).
 * Tags other than YAML's standard ones are refused.
 */
#ifndef OP_CLI_YAML_H
#define OP_CLI_YAML_H

#include <stdbool.h>
#include <stddef.h>

#include "../init-container/webhook/json.h"

/* Most anchors in one document. */
#define OP_YAML_MAX_ANCHORS 1024

/*
 * Reads every document of the YAML stream <s, len> into *docs (a heap
 * array of *ndocs trees; empty documents are left out). Limits are
 * json.h's (bytes, depth, values counting the copies aliases make).
 * Returns false with a message in <err, errsize> ("line 3, column 5:
 * ...") on malformed YAML, an unsupported feature or a limit exceeded.
 */
bool op_yaml_load(const char *s, size_t len, struct op_json ***docs, size_t *ndocs,
		  char *err, size_t errsize);

/*
 * Appends the documents as one YAML stream to `out`, "---" between
 * them; before the first as well when `explicit_first` (output that
 * follows other documents). Returns false when libyaml refuses (out of
 * memory, or out->err).
 */
bool op_yaml_dump(struct op_buf *out, struct op_json *const *docs, size_t ndocs,
		  bool explicit_first);

#endif
