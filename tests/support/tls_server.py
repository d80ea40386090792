#!/usr/bin/env python3
"""An HTTPS file server for the tests: serves DIR over TLS with CERT and KEY on 127.0.0.1:PORT
(0 picks one), printing the port it listens on as its first line.

    python3 tests/support/tls_server.py DIR CERT KEY PORT
"""
import functools
import http.server
import ssl
import sys

directory, cert, key, port = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=directory)
server = http.server.ThreadingHTTPServer(("127.0.0.1", port), handler)
context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
context.load_cert_chain(cert, key)
server.socket = context.wrap_socket(server.socket, server_side=True)
print(server.server_address[1], flush=True)
server.serve_forever()
