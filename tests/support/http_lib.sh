# Helpers for the HTTP integration tests. Source it after lib.sh:
#   . "$(dirname "$0")/../support/lib.sh" "$@"
#   . "$SRC/tests/support/http_lib.sh"

HTTP_PEER=$SRC/tests/support/http_peer.py
WIRECHECK=$SRC/tests/support/wirecheck.py
OP_PEERS=0

# start_peer [--slow] [--bind ADDR]: starts tests/support/http_peer.py and
# sets PPORT and PDIR (its records: conn-N.recv/.sent/.done, requests.jsonl).
start_peer() {
	local n=$((++OP_PEERS))
	PDIR=$T/peer.$n
	mkdir -p "$PDIR"
	spawn_server "the HTTP test peer" "$T/peerport.$n" "$T/peer.$n.log" 10 \
		"$PYTHON" -u "$HTTP_PEER" --port-file "$T/peerport.$n" --dir "$PDIR" --lifetime 100 "$@"
	PPORT=$SERVER_PORT
	touch "$PDIR/requests.jsonl"
}

# traced SERVICE CMD...: runs CMD preloaded, exporting as SERVICE; its exit
# status is left in RC. The library flushes at exit, so once CMD has
# returned its spans are in $RSPANS.
traced() {
	local svc=$1
	shift
	LD_PRELOAD="$LIB" OTEL_SERVICE_NAME="$svc" OTEL_EXPORTER_OTLP_ENDPOINT="$ENDPOINT" \
		OTEL_BSP_SCHEDULE_DELAY=100 "$@"
	RC=$?
}

# wait_conn N: wait until the peer of PDIR has finished with connection N.
wait_conn() {
	wait_file_exists "$PDIR/conn-$1.done" 20 || fail "the peer never finished connection $1"
}

# wait_file_exists FILE SECONDS: wait until FILE exists (empty or not).
wait_file_exists() {
	local i
	for ((i = 0; i < $2 * 20; i++)); do
		[ -e "$1" ] && return 0
		sleep 0.05
	done
	return 1
}

# start_preloaded_http_server NAME [ENV=VALUE...]: python3 -m http.server
# (a ThreadingHTTPServer) on 127.0.0.1 serving $T/www, preloaded with $LIB
# and exporting to $ENDPOINT as service NAME; sets HPORT and HPID. It stops
# by itself after 100 seconds.
start_preloaded_http_server() {
	local name=$1 log=$T/http.$1.log i
	shift
	mkdir -p "$T/www"
	env LD_PRELOAD="$LIB" OTEL_SERVICE_NAME="$name" OTEL_EXPORTER_OTLP_ENDPOINT="$ENDPOINT" \
		OTEL_BSP_SCHEDULE_DELAY=100 "$@" \
		timeout 100 "$PYTHON" -u -m http.server --bind 127.0.0.1 --directory "$T/www" 0 \
		>"$log" 2>&1 &
	HPID=$!
	track "$HPID"
	for ((i = 0; i < 200; i++)); do
		HPORT=$(sed -n 's/^Serving HTTP on .* port \([0-9]*\).*/\1/p' "$log")
		[ -n "$HPORT" ] && return 0
		kill -0 "$HPID" 2>/dev/null || break
		sleep 0.05
	done
	cat "$log" >&2
	fail "python3 -m http.server did not start under the library"
}

# need_nginx: nginx must be installed (scripts/deps.sh installs nginx-light).
need_nginx() {
	NGINX=$(command -v nginx || echo /usr/sbin/nginx)
	[ -x "$NGINX" ] || fail "nginx is not installed (bash scripts/deps.sh installs it)"
}

# start_nginx DIR MASTER HTTP_BODY [ENV=VALUE...]: runs nginx in the
# foreground from DIR (nginx.conf, logs, temp files, pid all in DIR),
# preloaded with $LIB and the given environment. MASTER is on or off.
# HTTP_BODY is inserted in the http block; "@PORT@" in it is replaced by the
# listening port, chosen here and returned in NPORT. DIR/access.log uses the
# format "tp": "$request_uri $status tp=$http_traceparent ua=$http_user_agent".
# Sets NPID. nginx stops by itself after 100 seconds.
start_nginx() {
	local dir=$1 master=$2 body=$3 try user=
	shift 3
	need_nginx
	mkdir -p "$dir/tmp"
	# A root master runs its workers as "nobody" unless told otherwise,
	# and they could not use the private temporary directory.
	[ "$(id -u)" = 0 ] && user="user root;"
	for try in 1 2 3; do
		NPORT=$(closed_port)
		cat >"$dir/nginx.conf" <<EOF
$user
worker_processes 1;
master_process $master;
daemon off;
pid $dir/nginx.pid;
error_log $dir/error.log warn;
events { worker_connections 64; }
http {
	log_format tp '\$request_uri \$status tp=\$http_traceparent ua=\$http_user_agent';
	access_log $dir/access.log tp;
	client_body_temp_path $dir/tmp/body;
	proxy_temp_path $dir/tmp/proxy;
	fastcgi_temp_path $dir/tmp/fastcgi;
	uwsgi_temp_path $dir/tmp/uwsgi;
	scgi_temp_path $dir/tmp/scgi;
	sendfile on;
	keepalive_timeout 10;
	default_type text/plain;
${body//@PORT@/$NPORT}
}
EOF
		rm -f "$dir/nginx.pid"
		env LD_PRELOAD="$LIB" "$@" timeout 100 "$NGINX" -e "$dir/error.log" -p "$dir" \
			-c "$dir/nginx.conf" >"$dir/stdout.log" 2>&1 &
		NPID=$!
		track "$NPID"
		if wait_port "$NPORT" "$NPID" 10; then
			return 0
		fi
		grep -q 'Address already in use' "$dir/error.log" 2>/dev/null || break
	done
	cat "$dir/error.log" "$dir/stdout.log" >&2 2>/dev/null
	fail "nginx did not start"
}

# wait_port PORT PID SECONDS: wait until 127.0.0.1:PORT accepts connections,
# giving up early when PID is gone.
wait_port() {
	local i
	for ((i = 0; i < $3 * 20; i++)); do
		"$PYTHON" -c 'import socket, sys
socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=1).close()' "$1" 2>/dev/null &&
			return 0
		kill -0 "$2" 2>/dev/null || return 1
		sleep 0.05
	done
	return 1
}
