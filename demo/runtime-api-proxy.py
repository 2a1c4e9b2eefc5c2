#!/usr/bin/env python3
"""Lambda Runtime API proxy that fixes cargo-lambda's invocation deadline (demo only).

`cargo lambda watch` (1.9.2 and earlier) answers `GET .../runtime/invocation/next` with the fixed
header `lambda-runtime-deadline-ms: 600000`, a duration, where the Runtime API specifies the
deadline as Unix epoch milliseconds (crates/cargo-lambda-watch/src/runtime/functions_router.rs).
A function that honours its deadline, as maxcompute-kafka-sink does, then sees a deadline in
1970 and gives up at once. This proxy sits between the function and cargo-lambda's runtime API
and rewrites such a value (anything before 2001-09-09, 10^12 ms) to now + that many
milliseconds; everything else passes through unchanged.

Usage: runtime-api-proxy.py LISTEN_PORT UPSTREAM_PORT   (both on 127.0.0.1)
  e.g. runtime-api-proxy.py 9101 9001   (cargo lambda watch --invoke-port 9001)
Then run the function with AWS_LAMBDA_RUNTIME_API=http://127.0.0.1:9101/.rt; request paths are
forwarded unchanged.
"""

import http.client
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

DEADLINE = "lambda-runtime-deadline-ms"
EPOCH_MS_FLOOR = 10**12
HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "te", "trailer", "upgrade",
              "proxy-authorization", "proxy-authenticate", "content-length"}


def main():
    port, upstream_port = int(sys.argv[1]), int(sys.argv[2])

    class Proxy(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def forward(self):
            length = int(self.headers.get("content-length") or 0)
            body = self.rfile.read(length) if length else None
            headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP_BY_HOP}
            # No timeout: `invocation/next` is a long poll that waits for the next event.
            conn = http.client.HTTPConnection("127.0.0.1", upstream_port)
            try:
                conn.request(self.command, self.path, body=body, headers=headers)
                resp = conn.getresponse()
                data = resp.read()
                self.send_response(resp.status)
                for key, value in resp.getheaders():
                    if key.lower() in HOP_BY_HOP:
                        continue
                    if key.lower() == DEADLINE and value.isdigit() and int(value) < EPOCH_MS_FLOOR:
                        value = str(int(time.time() * 1000) + int(value))
                    self.send_header(key, value)
                self.send_header("content-length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
            except OSError as error:
                self.send_error(502, f"runtime API proxy: {error}")
            finally:
                conn.close()

        do_GET = do_POST = do_PUT = forward

        def log_message(self, fmt, *args):
            sys.stderr.write("runtime-api-proxy: " + (fmt % args) + "\n")

    server = ThreadingHTTPServer(("127.0.0.1", port), Proxy)
    server.daemon_threads = True
    sys.stderr.write(f"runtime-api-proxy: 127.0.0.1:{port} -> 127.0.0.1:{upstream_port}\n")
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
