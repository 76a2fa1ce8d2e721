/*
 * k8s_review: op_k8s_review() as a program, for the corpus test. Reads an
 * AdmissionReview from stdin, writes the response on stdout and why
 * nothing was patched (if so) on stderr as "why: ...".
 *
 *   k8s_review [--image I] [--image-pull-policy P] [--mount-path D]
 *              [--size-limit Q] [--endpoint URL] [--namespace-annotations JSON]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mutate.h"

int main(int argc, char **argv)
{
	struct op_k8s_options opt = { 0 };
	struct op_buf in = OP_BUF_INIT;
	const char *why = NULL;
	char chunk[65536], msg[256];
	size_t n, out_len;
	char *out;

	for (int i = 1; i + 1 < argc; i += 2) {
		if (!strcmp(argv[i], "--image"))
			opt.image = argv[i + 1];
		else if (!strcmp(argv[i], "--image-pull-policy"))
			opt.image_pull_policy = argv[i + 1];
		else if (!strcmp(argv[i], "--mount-path"))
			opt.mount_path = argv[i + 1];
		else if (!strcmp(argv[i], "--size-limit"))
			opt.volume_size_limit = argv[i + 1];
		else if (!strcmp(argv[i], "--endpoint"))
			opt.default_endpoint = argv[i + 1];
		else if (!strcmp(argv[i], "--namespace-annotations"))
			opt.namespace_annotations = argv[i + 1];
		else {
			fprintf(stderr, "k8s_review: unknown option %s\n", argv[i]);
			return 2;
		}
	}
	if (op_k8s_options_check(&opt, msg, sizeof msg)) {
		fprintf(stderr, "k8s_review: %s\n", msg);
		return 2;
	}
	while ((n = fread(chunk, 1, sizeof chunk, stdin)) > 0)
		op_buf_add(&in, chunk, n);
	if (in.err) {
		fputs("k8s_review: out of memory\n", stderr);
		return 1;
	}
	out = op_k8s_review(in.p ? in.p : "", in.len, &opt, &out_len, &why);
	op_buf_free(&in);
	if (!out) {
		fputs("k8s_review: out of memory\n", stderr);
		return 1;
	}
	fwrite(out, 1, out_len, stdout);
	if (why)
		fprintf(stderr, "why: %s\n", why);
	free(out);
	return 0;
}
