/*
 * Code attributes (OTELPRELOAD_CODE_ATTRIBUTES): which application
 * function made an outbound request.
 *
 * Two halves, on two threads. The host thread that starts a sampled
 * CLIENT span captures raw return addresses only (op_code_capture: one
 * unwind, one allocation). The exporter thread, before encoding, turns
 * them into code.function.name, code.file.path, code.line.number and, in
 * `stack` mode, code.stacktrace (op_code_annotate): module lookup with
 * dl_iterate_phdr, ELF symbol tables and DWARF line tables read from the
 * modules' files, with a cache per address.
 *
 * The unwinder is libunwind (libunwind.so.8, opened with dlopen on the
 * first capture, never a link-time dependency), else the C library's
 * backtrace(), else libgcc's _Unwind_Backtrace; with none of them the
 * attributes are simply absent (one debug line).
 */
#ifndef OP_CODEATTR_H
#define OP_CODEATTR_H

struct op_span;

/* Raw return addresses of the calling thread, and when they were taken. */
struct op_code_ips {
	unsigned long long subs;        /* the loader's unload count (dlpi_subs) then */
	unsigned n;
	void *ip[];
};

/*
 * Records the calling thread's stack on `s` when code attributes are on
 * and `s` is sampled; otherwise one load and one branch. Preserves errno.
 */
void op_code_capture(struct op_span *s);

/*
 * Exporter thread: turns the stack recorded on `s` (if any) into its code
 * attributes and releases it. Only the exporter thread calls it, so its
 * caches need no lock.
 */
void op_code_annotate(struct op_span *s);

/* A forked child: abandons the parent's caches (its exporter thread may have been using them). */
void op_code_atfork_child(void);

#endif
