#!/bin/bash
# Real programs under the shipped library behave exactly as without it:
# byte-identical stdout and stderr, same exit status. Also with
# OTEL_SDK_DISABLED=true and with an OTLP endpoint configured.
. "$(dirname "$0")/../support/lib.sh" "$@"
need "$LIB"

cd "$SRC" || fail "cannot enter $SRC"
head -c 1048576 /dev/urandom >"$T/big"
printf 'line one\nline two\n' >"$T/small"
PORT=$(closed_port)

# run_case NAME CMD...: runs CMD without and with the library and compares.
run_case() {
	local name=$1 mode env
	shift
	"$@" <"$T/small" >"$T/out.plain" 2>"$T/err.plain"
	local want=$?
	for mode in default disabled endpoint; do
		case $mode in
		default) env=(LD_PRELOAD="$LIB") ;;
		disabled) env=(LD_PRELOAD="$LIB" OTEL_SDK_DISABLED=true) ;;
		endpoint) env=(LD_PRELOAD="$LIB" OTEL_EXPORTER_OTLP_ENDPOINT="http://127.0.0.1:$PORT"
			OTEL_BSP_EXPORT_TIMEOUT=1000) ;;
		esac
		env "${env[@]}" "$@" <"$T/small" >"$T/out.lib" 2>"$T/err.lib"
		local got=$?
		[ "$got" = "$want" ] || fail "$name ($mode): exit status $got, without the library $want"
		cmp -s "$T/out.plain" "$T/out.lib" || {
			diff <(head -c 2000 "$T/out.plain") <(head -c 2000 "$T/out.lib") | head -20
			fail "$name ($mode): stdout differs"
		}
		cmp -s "$T/err.plain" "$T/err.lib" || {
			diff "$T/err.plain" "$T/err.lib" | head -20
			fail "$name ($mode): stderr differs"
		}
	done
	note "$name: same output and exit status ($want)"
}

run_case "ls" ls
run_case "ls -la preload/" ls -la "$SRC/preload"
run_case "git --version" git --version
run_case "python3 -c 'print(1)'" "$PYTHON" -c 'print(1)'
run_case "sh -c 'echo hi'" sh -c 'echo hi'
run_case "failing ls (exit 2)" ls /nonexistent-otelpreload-path
run_case "sh exit 2 with stderr" sh -c 'echo out; echo err >&2; exit 2'
run_case "python3 exception" "$PYTHON" -c 'import sys; print("x"); sys.exit(3)'
run_case "cat 1 MiB" cat "$T/big"
run_case "pipeline" sh -c "cat '$T/big' | sha256sum; cat | tr a-z A-Z"
run_case "python3 stdin to stdout" "$PYTHON" -c 'import sys; sys.stdout.write(sys.stdin.read())'
run_case "python3 socketpair" "$PYTHON" -c '
import socket
a, b = socket.socketpair()
a.sendall(b"ping" * 1000)
a.shutdown(socket.SHUT_WR)
data = b""
while True:
    chunk = b.recv(4096)
    if not chunk:
        break
    data += chunk
print(len(data), data[:8])'
run_case "killed by a signal" sh -c 'kill -TERM $$'
pass
