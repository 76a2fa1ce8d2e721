#!/bin/bash
# The project's OTLP encoders (protobuf, and OTLP/JSON as the file and
# console exporters write it), judged by the official OpenTelemetry JS
# decoder and held to each other. Usage: encode_decode.sh BUILD_DIR
. "$(dirname "$0")/../support/lib.sh" "$@"

need_node
"$BUILD/tests/encode_fixture" "$T" || fail "encode_fixture failed"
node "$SRC/tests/integration/encode_decode.mjs" "$T" "$OP_VERSION" ||
	fail "the official decoder disagrees with the encoders"
pass
