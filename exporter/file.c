/* PLACEHOLDER: being written (issue 6). */
#include <stdlib.h>

#include "file.h"

struct op_file *op_file_create(const char *path)
{
	(void)path;
	return NULL;
}

int op_file_export(struct op_file *f, struct op_span *const *spans, size_t n,
		   const struct op_resource *res)
{
	(void)f;
	(void)spans;
	(void)n;
	(void)res;
	return -1;
}

void op_file_destroy(struct op_file *f)
{
	(void)f;
}
