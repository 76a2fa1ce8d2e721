"""Python's http.client against tests/security/rawpeer.py's hostile
responses: one GET /CASE per case, on a connection of its own, and one
JSON line on stdout per case with what the application saw (status,
reason, headers, body length and digest, or the exception it got).

    python3 hclient.py PORT CASES
"""
import hashlib
import http.client
import json
import sys


def main():
    port = int(sys.argv[1])
    with open(sys.argv[2]) as f:
        names = [json.loads(line)["name"] for line in f if line.strip()]
    for n in names:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=20)
        try:
            conn.request("GET", "/" + n)
            r = conn.getresponse()
            body = r.read()
            row = {"case": n, "status": r.status, "reason": r.reason, "headers": r.getheaders(),
                   "len": len(body), "sha256": hashlib.sha256(body).hexdigest()}
        except Exception as e:     # what the application would have seen
            row = {"case": n, "error": type(e).__name__, "what": str(e)[:200]}
        finally:
            conn.close()
        print(json.dumps(row), flush=True)


if __name__ == "__main__":
    main()
