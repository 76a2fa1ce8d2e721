#!/bin/bash
# otelpreload doctor against real programs built here: doctor.sh BUILD CASE.
# Each case asserts the verdict line(s) and the exit status (0 traceable,
# 1 cannot trace, 2 usage). Where doctor predicts what the loader will do
# (a program that would not start), the program is run to check it.
. "$(dirname "$0")/../support/lib.sh" "$1"
CASE=${2:?usage: doctor.sh BUILD CASE}
TEST_NAME=doctor_$CASE
need "$CLI" "$LIB"

skip() {
	echo "SKIP: $TEST_NAME: $*"
	exit 77
}

# doctor EXPECTED_STATUS ARGS...: runs otelpreload doctor; output in $T/out.
doctor() {
	local want=$1 rc
	shift
	"$CLI" doctor "$@" >"$T/out" 2>"$T/err"
	rc=$?
	sed 's/^/   | /' "$T/out" "$T/err"
	[ "$rc" = "$want" ] || fail "doctor $* exited $rc, expected $want"
}

# has CHECK VERDICT [REGEX]: a line "CHECK: VERDICT ..." (matching REGEX) is in $T/out.
has() {
	grep -E "^$1: +$2 +.*${3:-}" "$T/out" >/dev/null ||
		fail "no '$1: $2 ${3:-}' line in the output above"
}

hasnt() {
	! grep -E "^$1: +$2" "$T/out" >/dev/null || fail "unexpected '$1: $2' line in the output above"
}

hello() { # hello OUT CC [FLAGS...]: a C program that prints and exits
	local out=$1
	shift
	printf '#include <stdio.h>\nint main(void) { puts("hello"); return 0; }\n' >"$T/hello.c"
	"$@" -o "$out" "$T/hello.c" || fail "cannot build $out with $*"
}

# The console exporter: no endpoint probe unless a case wants one.
export OTEL_TRACES_EXPORTER=console

case $CASE in
static)
	hello "$T/static" gcc -static
	doctor 1 -- "$T/static"
	has linking 'cannot trace' 'statically linked'
	has result 'cannot trace'
	if gcc -static-pie -o "$T/spie" "$T/hello.c" 2>/dev/null; then
		doctor 1 -- "$T/spie"
		has linking 'cannot trace' 'static-pie'
	fi
	if command -v musl-gcc >/dev/null; then
		hello "$T/mstatic" musl-gcc -static
		doctor 1 -- "$T/mstatic"
		has linking 'cannot trace' 'statically linked'
	fi
	;;
setuid)
	hello "$T/prog" gcc
	cp "$T/prog" "$T/mine" && chmod u+s "$T/mine"
	# Set-user-ID to the user who runs it: no identity change, traced.
	doctor 0 -- "$T/mine"
	has privileges warning 'set-user-ID .*which is you'
	if [ "$(id -u)" = 0 ]; then
		cp "$T/prog" "$T/theirs" && chown 65534 "$T/theirs" && chmod u+s "$T/theirs"
		doctor 1 -- "$T/theirs"
		has privileges 'cannot trace' 'set-user-ID .*secure-execution'
		has result 'cannot trace'
		# The loader really ignores the library there.
		printf '#include <stdio.h>\nint main(void){FILE*f=fopen("/proc/self/maps","r");char b[4096];size_t n;while((n=fread(b,1,sizeof b,f)))fwrite(b,1,n,stdout);return 0;}\n' >"$T/maps.c"
		gcc -o "$T/maps" "$T/maps.c" && chown 65534 "$T/maps" && chmod u+s "$T/maps"
		LD_PRELOAD=$LIB "$T/maps" | grep -q libotelpreload && fail "the library was loaded into a set-user-ID program"
		cp "$T/prog" "$T/gid" && chgrp 65534 "$T/gid" && chmod g+s "$T/gid"
		doctor 1 -- "$T/gid"
		has privileges 'cannot trace' 'set-group-ID'
		# File capabilities, for a user who is not root.
		if command -v setcap >/dev/null && command -v setpriv >/dev/null &&
			cp "$T/prog" "$T/caps" && setcap cap_net_raw+ep "$T/caps" 2>/dev/null; then
			chmod 755 "$T"
			if setpriv --reuid=65534 --regid=65534 --clear-groups test -r "$LIB"; then
				setpriv --reuid=65534 --regid=65534 --clear-groups \
					"$CLI" doctor -- "$T/caps" >"$T/out" 2>&1
				rc=$?
				sed 's/^/   | /' "$T/out"
				[ "$rc" = 1 ] || fail "doctor on a program with file capabilities exited $rc, expected 1"
				has privileges 'cannot trace' 'file capabilities'
			else
				note "file capabilities not checked: $LIB is not readable by uid 65534"
			fi
		fi
	else
		su=$(find /usr/bin /bin -maxdepth 1 -perm -4000 -user root -type f 2>/dev/null | head -1)
		[ -n "$su" ] || skip "not root and no set-user-ID root program to look at"
		doctor 1 -- "$su"
		has privileges 'cannot trace' 'set-user-ID root'
	fi
	;;
glibc)
	hello "$T/prog" gcc
	doctor 0 -- "$T/prog"
	has linking ok 'dynamically linked'
	has arch ok
	has libc ok 'glibc program, glibc library'
	has privileges ok
	has result ok
	# Found through PATH, as execvp finds it.
	PATH=$T:$PATH doctor 0 -- prog
	has program ok "$T/prog"
	doctor 1 -- no-such-program-otelpreload
	has program 'cannot trace' 'No such file'
	;;
musl)
	command -v musl-gcc >/dev/null || skip "musl-gcc (musl-tools) is not installed"
	hello "$T/mprog" musl-gcc
	hello "$T/gprog" gcc
	# A musl build of the library, as far as doctor can tell: a musl shared object.
	mkdir -p "$T/musl"
	printf 'int otelpreload_stub(void) { return 0; }\n' >"$T/stub.c"
	musl-gcc -shared -fPIC -o "$T/musl/libotelpreload.so" "$T/stub.c" || fail "musl-gcc -shared failed"
	OTELPRELOAD_LIBRARY=$T/musl/libotelpreload.so doctor 0 -- "$T/mprog"
	has libc ok 'musl program, musl library'
	# The musl library into a glibc program: glibc's loader fails on
	# musl's libc.so and the program does not start.
	OTELPRELOAD_LIBRARY=$T/musl/libotelpreload.so doctor 1 -- "$T/gprog"
	has libc 'cannot trace' 'glibc program, musl library'
	LD_PRELOAD=$T/musl/libotelpreload.so "$T/gprog" >/dev/null 2>&1
	rc=$?
	[ "$rc" = 127 ] || fail "the glibc program with the musl library exited $rc, not 127 as doctor says"
	# The glibc library into the musl program: what is true depends on the
	# symbols and dependencies of this build; doctor's verdict is checked
	# by running the program.
	"$CLI" doctor -- "$T/mprog" >"$T/out" 2>&1
	rc=$?
	sed 's/^/   | /' "$T/out"
	LD_PRELOAD=$LIB "$T/mprog" >/dev/null 2>"$T/run.err"
	run=$?
	if grep -Eq '^libc: +cannot trace .*would not even start' "$T/out"; then
		[ "$rc" = 1 ] || fail "cannot trace, yet exit status $rc"
		[ "$run" = 127 ] || fail "doctor says the musl program would not start; it exited $run"
		note "glibc library into musl: the program does not start ($(head -1 "$T/run.err"))"
	elif grep -Eq '^libc: +cannot trace .*no span is ever exported' "$T/out"; then
		[ "$rc" = 1 ] || fail "cannot trace, yet exit status $rc"
		[ "$run" = 0 ] || fail "doctor says the musl program starts; it exited $run"
	elif grep -Eq '^libc: +warning .*musl program, glibc library' "$T/out"; then
		[ "$rc" = 0 ] || fail "a warning, yet exit status $rc"
		[ "$run" = 0 ] || fail "doctor says the musl program starts; it exited $run"
	else
		fail "no libc verdict for the glibc library in a musl program"
	fi
	# The shipped musl copy, when this build has one (OTELPRELOAD_PORTABLE).
	if [ -f "$BUILD/dist/musl/libotelpreload.so" ]; then
		OTELPRELOAD_LIBRARY=$BUILD/dist/musl/libotelpreload.so doctor 0 -- "$T/mprog"
		has libc ok 'musl program, musl library'
	fi
	;;
script)
	printf '#!/bin/sh\necho hi\n' >"$T/s.sh"
	chmod +x "$T/s.sh"
	doctor 0 -- "$T/s.sh"
	has script ok "is a script for /bin/sh"
	has linking ok
	# A script whose interpreter cannot be traced cannot be either.
	hello "$T/static" gcc -static
	printf '#!%s\n' "$T/static" >"$T/s2"
	chmod +x "$T/s2"
	doctor 1 -- "$T/s2"
	has script ok "is a script for $T/static"
	has linking 'cannot trace' 'statically linked'
	# #!/usr/bin/env NAME: NAME through PATH.
	printf '#!/usr/bin/env static\n' >"$T/s3"
	chmod +x "$T/s3"
	PATH=$T:$PATH doctor 1 -- "$T/s3"
	has script ok "is a script for $T/static \\(through /usr/bin/env\\)"
	# No #! at all: execvp hands it to /bin/sh.
	printf 'echo hi\n' >"$T/s4"
	chmod +x "$T/s4"
	doctor 0 -- "$T/s4"
	has script ok 'no #! line'
	;;
go)
	# Go is not installed: a C binary with Go's build information section
	# (magic, pointer size 8, flags 2 = inline strings, padding to 32, then
	# the version and the module information as length-prefixed strings).
	command -v objcopy >/dev/null || skip "objcopy is not installed"
	hello "$T/prog" gcc
	mod=$(printf 'path\texample.com/x\nbuild\tCGO_ENABLED=1\n')
	{
		printf '\377 Go buildinf:\010\002'
		head -c 16 /dev/zero
		printf '\010go1.22.5'
		printf "\\$(printf %03o ${#mod})"
		printf '%s' "$mod"
	} >"$T/buildinfo"
	objcopy --add-section .go.buildinfo="$T/buildinfo" "$T/prog" "$T/goprog" ||
		fail "objcopy --add-section failed"
	doctor 1 -- "$T/goprog"
	has go 'cannot trace' 'a Go program \(go1.22.5.*built with cgo\).*socket system calls'
	has result 'cannot trace'
	hello "$T/static" gcc -static
	objcopy --add-section .go.buildinfo="$T/buildinfo" "$T/static" "$T/gostatic"
	doctor 1 -- "$T/gostatic"
	has go 'cannot trace' 'a Go program'
	has linking 'cannot trace' 'statically linked'
	;;
arch)
	# The same program with e_machine set to AArch64 (183).
	hello "$T/prog" gcc
	cp "$T/prog" "$T/arm"
	printf '\267\000' | dd of="$T/arm" bs=1 seek=18 conv=notrunc 2>/dev/null
	doctor 1 -- "$T/arm"
	has program ok 'AArch64'
	has arch 'cannot trace' 'the loader skips it'
	;;
pid)
	sleep 60 &
	p1=$!
	track $p1
	OTEL_SERVICE_NAME=doctor-pid OTEL_TRACES_SAMPLER=bogus LD_PRELOAD=$LIB sleep 60 &
	p2=$!
	track $p2
	# Until the loader has mapped the library (exec is asynchronous).
	for _ in $(seq 50); do
		case $(readlink "/proc/$p1/exe") in
		*/sleep) grep -q libotelpreload "/proc/$p2/maps" 2>/dev/null && break ;;
		esac
		sleep 0.1
	done
	doctor 0 "$p1"
	has program ok "$(readlink -f /proc/$p1/exe)"
	has loaded warning 'not loaded'
	has privileges ok 'not in secure-execution mode'
	doctor 0 "$p2"
	has loaded ok "libotelpreload.so is loaded in pid $p2"
	# Its configuration is its own environment's, not this shell's.
	has config warning 'OTEL_TRACES_SAMPLER=bogus is not a supported sampler'
	has config '(ok|warning)' 'exporter console.*service.name doctor-pid'
	doctor 2 999999999
	;;
endpoint)
	unset OTEL_TRACES_EXPORTER
	port=$("$PYTHON" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
	OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:$port doctor 0 -- true
	has endpoint warning "127.0.0.1:$port refused"
	"$PYTHON" -c '
import socket, sys, time
s = socket.socket(); s.bind(("127.0.0.1", 0)); s.listen(8)
print(s.getsockname()[1], flush=True)
time.sleep(60)' >"$T/port" &
	track $!
	wait_file "$T/port" 10 || fail "the listener did not start"
	port=$(cat "$T/port")
	OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:$port doctor 0 -- true
	has endpoint ok "127.0.0.1:$port accepts TCP connections"
	has config ok "endpoint http://127.0.0.1:$port/v1/traces"
	# The signal-specific endpoint is used as is; gRPC's port and path.
	OTEL_EXPORTER_OTLP_TRACES_ENDPOINT=http://u:secret@127.0.0.1:$port/x doctor 0 -- true
	has config ok "endpoint http://REDACTED:REDACTED@127.0.0.1:$port/x"
	grep -q secret "$T/out" && fail "the endpoint's password was printed"
	OTEL_EXPORTER_OTLP_PROTOCOL=grpc OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:$port doctor 0 -- true
	has config ok "protocol grpc, endpoint http://127.0.0.1:$port/opentelemetry.proto.collector.trace.v1.TraceService/Export"
	has endpoint ok
	;;
config)
	# Defaults (spec): http/protobuf to localhost:4318/v1/traces, grpc to 4317.
	# Read from the JSON with the console exporter: no connection to localhost.
	doctor 0 --json -- true
	"$PYTHON" -c 'import json,sys; c=json.load(open(sys.argv[1]))["config"]; assert c["endpoint"]=="http://localhost:4318/v1/traces" and c["protocol"]=="http/protobuf" and c["sampler"]=="parentbased_always_on" and c["service_name"]=="unknown_service:true", c' "$T/out" ||
		fail "wrong defaults"
	OTEL_EXPORTER_OTLP_PROTOCOL=grpc doctor 0 --json -- true
	"$PYTHON" -c 'import json,sys; c=json.load(open(sys.argv[1]))["config"]; assert c["endpoint"].startswith("http://localhost:4317/"), c' "$T/out" ||
		fail "wrong gRPC default"
	# OTLP is the default exporter (an empty value is unset).
	OTEL_TRACES_EXPORTER= OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:9 doctor 0 -- true
	has config '(ok|warning)' 'exporter otlp, protocol http/protobuf, endpoint http://127.0.0.1:9/v1/traces, sampler parentbased_always_on, service.name unknown_service:true'
	# Invalid values in the library's own words.
	OTEL_BSP_MAX_QUEUE_SIZE=abc OTEL_TRACES_SAMPLER=traceidratio OTEL_TRACES_SAMPLER_ARG=0.25 \
		OTEL_SERVICE_NAME=svc doctor 0 -- true
	has config warning 'OTEL_BSP_MAX_QUEUE_SIZE=abc is not a number; using 2048'
	has config warning 'exporter console, sampler traceidratio \(ratio 0.25\), service.name svc'
	OTEL_RESOURCE_ATTRIBUTES=service.name=from-attrs,team=x doctor 0 -- true
	has config ok 'service.name from-attrs'
	OTEL_RESOURCE_ATTRIBUTES=service.name=from-attrs,broken doctor 0 -- true
	has config warning 'OTEL_RESOURCE_ATTRIBUTES is not a valid list'
	has config warning 'service.name unknown_service:true'
	OTEL_TRACES_EXPORTER=none doctor 0 -- true
	has config warning 'OTEL_TRACES_EXPORTER=none'
	OTEL_SDK_DISABLED=true doctor 1 -- true
	has config 'cannot trace' 'OTEL_SDK_DISABLED=true'
	# OTEL_LOG_LEVEL=none hides the warnings from the program, not from doctor.
	OTEL_LOG_LEVEL=none OTEL_TRACES_SAMPLER=nope doctor 0 -- true
	has config warning 'OTEL_TRACES_SAMPLER=nope .*not printed by the library'
	;;
json)
	hello "$T/static" gcc -static
	doctor 1 --json -- "$T/static"
	"$PYTHON" - "$T/out" <<'PY' || fail "the JSON output is wrong"
import json, sys
d = json.load(open(sys.argv[1]))
assert d["verdict"] == "cannot trace" and d["traceable"] is False, d
checks = {c["check"]: c for c in d["checks"]}
assert checks["linking"]["verdict"] == "cannot trace", checks
assert "statically linked" in checks["linking"]["reason"]
assert d["config"]["exporters"] == ["console"], d["config"]
PY
	hello "$T/prog" gcc
	doctor 0 --json -- "$T/prog"
	"$PYTHON" - "$T/out" <<'PY' || fail "the JSON output is wrong"
import json, sys
d = json.load(open(sys.argv[1]))
assert d["traceable"] is True and d["verdict"] == "ok", d
assert all(c["verdict"] == "ok" for c in d["checks"]), d["checks"]
PY
	;;
usage)
	doctor 2
	doctor 2 --bogus
	doctor 2 123 extra
	doctor 0 --help
	grep -q 'otelpreload doctor' "$T/out" || fail "--help does not show the usage"
	;;
corrupt)
	# Truncated and damaged executables: never a crash, never a usage error.
	hello "$T/prog" gcc
	size=$(stat -c %s "$T/prog")
	for n in 0 1 4 16 20 52 63 64 65 100 200 300 500 700 1000 2000 4000 $((size / 2)) $((size - 1)); do
		head -c "$n" "$T/prog" >"$T/cut"
		chmod +x "$T/cut"
		"$CLI" doctor -- "$T/cut" >/dev/null 2>&1
		rc=$?
		[ "$rc" = 0 ] || [ "$rc" = 1 ] || fail "doctor on the first $n bytes exited $rc"
	done
	mkdir "$T/bad"
	"$PYTHON" - "$T/prog" "$T/bad" <<'PY' || fail "cannot write the damaged copies"
import os, random, sys
orig = open(sys.argv[1], "rb").read()
r = random.Random(1)
for seed in range(300):
    data = bytearray(orig)
    # The headers hold the offsets: damage mostly there.
    for _ in range(r.randint(1, 8)):
        i = r.randrange(0, 1024 if r.random() < 0.8 else len(data))
        data[i] = r.randrange(256)
    path = os.path.join(sys.argv[2], str(seed))
    open(path, "wb").write(data)
    os.chmod(path, 0o755)
PY
	for f in "$T"/bad/*; do
		"$CLI" doctor -- "$f" >/dev/null 2>&1
		rc=$?
		[ "$rc" = 0 ] || [ "$rc" = 1 ] || fail "doctor on damaged copy $(basename "$f") exited $rc"
	done
	;;
*)
	fail "unknown case $CASE"
	;;
esac
pass
