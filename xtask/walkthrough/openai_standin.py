"""A local TLS stand-in for https://api.openai.com, used by `cargo xtask walkthrough`.

It answers GET /v1/models with a small JSON list plus the SHA-256 of the bearer
token it received in the Authorization header (never the token itself), so the
walkthrough can prove that the Clavitor proxy injected the right key.

Usage: python3 openai_standin.py CERT.pem KEY.pem PORT_FILE
Binds 127.0.0.1 on a free port and writes that port to PORT_FILE once ready.
"""

import hashlib
import json
import os
import ssl
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "openai-standin/1"

    def do_GET(self):  # noqa: N802 (http.server naming)
        if self.path.split("?", 1)[0] != "/v1/models":
            self.reply(404, {"error": {"message": "not found: " + self.path}})
            return
        auth = self.headers.get("Authorization", "")
        scheme, _, token = auth.partition(" ")
        if scheme.lower() != "bearer" or not token:
            self.reply(401, {"error": {"message": "missing bearer token"}})
            return
        digest = hashlib.sha256(token.encode("utf-8")).hexdigest()
        self.reply(
            200,
            {
                "object": "list",
                "data": [
                    {"id": "gpt-4o", "object": "model", "owned_by": "openai"},
                    {"id": "gpt-4o-mini", "object": "model", "owned_by": "openai"},
                ],
                "host": self.headers.get("Host", ""),
                "received_bearer_sha256": digest,
            },
        )

    def reply(self, status, body):
        data = (json.dumps(body, indent=2) + "\n").encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format, *args):  # noqa: A002 (http.server signature)
        pass


def main():
    if len(sys.argv) != 4:
        sys.exit("usage: openai_standin.py CERT.pem KEY.pem PORT_FILE")
    cert, key, port_file = sys.argv[1:]
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.load_cert_chain(cert, key)
    ctx.set_alpn_protocols(["http/1.1"])
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    server.socket = ctx.wrap_socket(server.socket, server_side=True)
    tmp = port_file + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(str(server.server_address[1]))
    os.replace(tmp, port_file)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
