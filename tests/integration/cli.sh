#!/bin/bash
# The otelpreload command: run passes the exit status through and prepends
# the library to LD_PRELOAD; version and --help.
. "$(dirname "$0")/../support/lib.sh" "$@"
need "$CLI" "$LIB"

"$CLI" run -- sh -c 'exit 7'
[ $? = 7 ] || fail "otelpreload run -- sh -c 'exit 7' did not exit 7"
"$CLI" run sh -c 'exit 0' || fail "otelpreload run without -- failed"
"$CLI" run -- sh -c 'kill -TERM $$'
rc=$?
[ "$rc" -ne 0 ] || fail "a child killed by SIGTERM reported success"
note "run: exit status passed through (signal: $rc)"

out=$("$CLI" run -- sh -c 'printf %s "$LD_PRELOAD"') || fail "run failed"
[ "$out" = "$LIB" ] || fail "LD_PRELOAD in the child is '$out', expected '$LIB'"

# An existing LD_PRELOAD is kept, after ours.
out=$(LD_PRELOAD=libc.so.6 "$CLI" run -- sh -c 'printf %s "$LD_PRELOAD"') || fail "run failed"
case $out in
"$LIB libc.so.6"|"$LIB:libc.so.6") ;;
*) fail "LD_PRELOAD=libc.so.6 became '$out', expected '$LIB' prepended" ;;
esac
note "run: LD_PRELOAD prepended ($out)"

# The library is really loaded in the child.
"$CLI" run -- grep -q otelpreload /proc/self/maps || fail "the child does not have the library mapped"

# Output and arguments pass through untouched.
out=$("$CLI" run -- printf '%s|' "a b" "" "c") || fail "run printf failed"
[ "$out" = "a b||c|" ] || fail "arguments changed: '$out'"

# Without the library's directory as the current one: found relative to the CLI.
(cd / && "$CLI" run -- true) || fail "run from / failed"

v=$("$CLI" version) || fail "otelpreload version failed"
case $v in *"$OP_VERSION"*) ;; *) fail "otelpreload version printed '$v', expected $OP_VERSION" ;; esac
note "version: $v"

"$CLI" --help >"$T/help" 2>&1 || fail "otelpreload --help failed"
grep -q 'run' "$T/help" || fail "--help does not mention run"
"$CLI" run >/dev/null 2>&1 && fail "otelpreload run without a command succeeded"
"$CLI" no-such-command >/dev/null 2>&1 && fail "an unknown command succeeded"
# Options become the library's variables; bad values are refused before CMD runs.
env_of() {
	(unset OTEL_TRACES_EXPORTER OTEL_EXPORTER_OTLP_PROTOCOL OTELPRELOAD_FILE \
		OTEL_EXPORTER_OTLP_ENDPOINT OTEL_EXPORTER_OTLP_TRACES_ENDPOINT
	"$CLI" run "$@" -- sh -c 'printf "%s|%s|%s" "$OTEL_TRACES_EXPORTER" "$OTEL_EXPORTER_OTLP_PROTOCOL" "$OTELPRELOAD_FILE"')
}
out=$(env_of --protocol grpc --exporter otlp,zipkin) || fail "run --protocol grpc failed"
[ "$out" = "otlp,zipkin|grpc|" ] || fail "--protocol grpc --exporter otlp,zipkin gave '$out'"
out=$(env_of --file "$T/spans.jsonl") || fail "run --file failed"
[ "$out" = "||$T/spans.jsonl" ] || fail "--file alone gave '$out' (no console default expected)"
out=$(env_of 2>/dev/null) || fail "run failed"
# No exporter: the spans go to run's private file for the waterfall (tests/cli/).
case $out in
"none||"/*/otelpreload-run.*/spans.jsonl) ;;
*) fail "no exporter configured gave '$out', expected run's private file" ;;
esac
for bad in "--protocol http" "--exporter jaeger" "--file="; do
	# shellcheck disable=SC2086
	"$CLI" run $bad -- true 2>"$T/err" && fail "run $bad succeeded"
	grep -q '^otelpreload: ' "$T/err" || fail "run $bad: no otelpreload: message"
done
note "run: --protocol, --exporter, --file set the library's variables"

"$CLI" run -- /nonexistent/program 2>/dev/null
[ $? -ne 0 ] || fail "running a missing program succeeded"
pass
