#ifndef OP_CLI_INJECT_H
#define OP_CLI_INJECT_H

/* Help for `otelpreload inject`, also part of `otelpreload help`. */
extern const char op_inject_help[];

/*
 * `otelpreload inject [OPTIONS] [FILE...]`: argv[0] is the first argument
 * after "inject". Returns the exit status.
 */
int op_inject_main(int argc, char **argv);

/*
 * Shared by the commands' option parsers (defined in otelpreload.c): matches
 * `--name VALUE` and `--name=VALUE` at argv[*i]; advances *i past the value
 * and returns it, or returns NULL when argv[*i] is another option. A missing
 * value goes to usage, the command's usage_error, which does not return.
 */
const char *op_option_value(char **argv, int argc, int *i, const char *name,
			    void (*usage)(const char *fmt, ...));

#endif
