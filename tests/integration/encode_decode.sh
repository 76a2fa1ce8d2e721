#!/bin/bash
# The project's OTLP encoder, judged by the official OpenTelemetry JS
# decoder. Usage: encode_decode.sh BUILD_DIR
. "$(dirname "$0")/../support/lib.sh" "$@"

need_node
"$BUILD/tests/encode_fixture" "$T/fixed.bin" "$T/many.bin" || fail "encode_fixture failed"
node "$SRC/tests/integration/encode_decode.mjs" "$T/fixed.bin" "$T/many.bin" "$OP_VERSION" ||
	fail "the official decoder disagrees with the encoder"
pass
