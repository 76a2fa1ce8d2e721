"""The OpenTelemetry -> Zipkin mapping written a second time, in Python,
from an OTLP span as the official JS decoder gives it (otlp_decode.mjs
flatten()), so tests can compare what the C encoder sent to Zipkin with
what the same span looked like over OTLP.

    import sys; sys.path.insert(0, args["support"]); from zipkincheck import *

The rules, from the OpenTelemetry specification (trace/sdk_exporters/
zipkin.md and common/mapping-to-non-otlp.md) and zipkin2-api.yaml:
IDs as lower-case hex, parentId only with a parent, kind by name but
none for INTERNAL, times in whole microseconds (cut) with a duration of at
least 1, localEndpoint.serviceName from service.name, remoteEndpoint from
the ranked peer attributes (CLIENT, PRODUCER, CONSUMER) or the socket peer
(SERVER), attributes as string tags, otel.status_code and `error` from the
status, otel.dropped_attributes_count when non-zero, otel.scope.* and
otel.library.* for the scope, and the other resource attributes as tags
where the span has no attribute of that name.
"""
import ipaddress

KINDS = {2: "SERVER", 3: "CLIENT", 4: "PRODUCER", 5: "CONSUMER"}
PEER_NAMES = ["peer.service", "server.address", "net.peer.name", "server.socket.domain",
              "net.sock.peer.name", "peer.hostname", "peer.address", "db.name"]
PEER_ADDRESSES = [("network.peer.address", "network.peer.port"),
                  ("server.socket.address", "server.socket.port"),
                  ("net.sock.peer.addr", "net.sock.peer.port")]
CLIENT_ADDRESSES = [("network.peer.address", "network.peer.port"),
                    ("client.address", "client.port")]
OWNED = {"error", "otel.status_code", "otel.dropped_attributes_count", "otel.scope.name",
         "otel.scope.version", "otel.library.name", "otel.library.version"}


def tag_value(v):
    """An attribute value as a Zipkin tag. Doubles are compared apart (see
    same_tags): Python and C may spell the same double differently."""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, str)):
        return str(v)
    return v


def ip_of(text):
    try:
        ip = ipaddress.ip_address(text.split("%")[0])
    except ValueError:
        return None
    if ip.version == 6 and ip.ipv4_mapped:
        ip = ip.ipv4_mapped
    return ("ipv4" if ip.version == 4 else "ipv6"), str(ip)


def port_of(attrs, key):
    try:
        p = int(attrs.get(key, 0))
    except (TypeError, ValueError):
        return 0
    return p if 0 < p < 65536 else 0


def remote_endpoint(kind, attrs):
    ep = {}
    if kind in (3, 4, 5):
        names = [attrs[k] for k in PEER_NAMES if isinstance(attrs.get(k), str) and attrs[k]]
        if names:
            ep["serviceName"] = names[0]
        addresses = PEER_ADDRESSES
    elif kind == 2:
        addresses = CLIENT_ADDRESSES
    else:
        return None
    for key, port_key in addresses:
        v = attrs.get(key)
        ip = ip_of(v) if isinstance(v, str) and v else None
        if ip:
            ep[ip[0]] = ip[1]
            if port_of(attrs, port_key):
                ep["port"] = port_of(attrs, port_key)
            break
    return ep or None


def expected_zipkin(o, version):
    """The Zipkin v2 span the OTLP span `o` should have become."""
    attrs, res = o["attributes"], o["resource"]
    start, end = int(o["startTimeUnixNano"]), int(o["endTimeUnixNano"])
    z = {"traceId": o["traceId"], "id": o["spanId"]}
    if o["parentSpanId"]:
        z["parentId"] = o["parentSpanId"]
    if o["name"]:
        z["name"] = o["name"]
    if o["kind"] in KINDS:
        z["kind"] = KINDS[o["kind"]]
    if start // 1000 > 0:
        z["timestamp"] = start // 1000
    z["duration"] = max(1, (end - start) // 1000)
    name = res.get("service.name")
    if not name:
        exe = res.get("process.executable.name")
        name = "unknown_service:" + exe if exe else "unknown_service"
    z["localEndpoint"] = {"serviceName": name}
    remote = remote_endpoint(o["kind"], attrs)
    if remote:
        z["remoteEndpoint"] = remote
    tags = {"otel.scope.name": o["scope"]["name"], "otel.scope.version": o["scope"]["version"],
            "otel.library.name": o["scope"]["name"], "otel.library.version": o["scope"]["version"]}
    assert o["scope"] == {"name": "otelpreload", "version": version}, o["scope"]
    for k, v in attrs.items():
        if k not in OWNED:
            tags[k] = tag_value(v)
    if o["droppedAttributesCount"]:
        tags["otel.dropped_attributes_count"] = str(o["droppedAttributesCount"])
    if o["status"]["code"] == 1:
        tags["otel.status_code"] = "OK"
    elif o["status"]["code"] == 2:
        tags["otel.status_code"] = "ERROR"
        tags["error"] = o["status"]["message"]
    for k, v in res.items():
        if k != "service.name" and k not in OWNED and k not in attrs:
            tags[k] = tag_value(v)
    z["tags"] = tags
    return z


def same_tags(got, want):
    """Tags equal, doubles by value."""
    assert set(got) == set(want), "tags differ: missing %s, extra %s" % (
        sorted(set(want) - set(got)), sorted(set(got) - set(want)))
    for k, w in want.items():
        if isinstance(w, float):
            assert float(got[k]) == w or (w != w and got[k] == "NaN"), (k, got[k], w)
        else:
            assert got[k] == w, "tag %s: %r, expected %r" % (k, got[k], w)


def check_pair(z, o, version):
    """The Zipkin span `z` is what the OTLP span `o` maps to, field by field."""
    want = expected_zipkin(o, version)
    for k in sorted(set(want) | set(z)):
        if k == "tags":
            same_tags(z.get("tags", {}), want["tags"])
        else:
            assert z.get(k) == want.get(k), "span %s, %s: %r, expected %r" % (
                o["spanId"], k, z.get(k), want.get(k))
