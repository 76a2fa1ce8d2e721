#ifndef OP_CLI_INJECT_H
#define OP_CLI_INJECT_H

/* Help for `otelpreload inject`, also part of `otelpreload help`. */
extern const char op_inject_help[];

/*
 * `otelpreload inject [OPTIONS] [FILE...]`: argv[0] is the first argument
 * after "inject". Returns the exit status.
 */
int op_inject_main(int argc, char **argv);

#endif
