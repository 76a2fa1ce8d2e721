#ifndef OP_CLI_DOCTOR_H
#define OP_CLI_DOCTOR_H

/*
 * `otelpreload doctor [--json] [--] CMD [ARGS...]` and `otelpreload doctor
 * [--json] PID`: says whether the program can be traced, and why not,
 * without running it. argv[0] is the first argument after "doctor";
 * argv0 is the CLI's own argv[0] (to find the library as `run` does).
 * Returns 0 when it can be traced, 1 when it cannot, 2 on a usage error.
 */
int op_doctor_main(int argc, char **argv, const char *argv0);

#endif
