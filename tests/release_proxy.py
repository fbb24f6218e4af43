"""An HTTPS proxy that plays GitHub for rembg's model downloads, in tests.

rembg fetches its weights with pooch (``requests``) from a URL written into its code
(``https://github.com/danielgatis/rembg/releases/download/...``), with no setting for
another server.  ``requests`` does honour ``HTTPS_PROXY`` and ``REQUESTS_CA_BUNDLE``, so
this proxy answers ``CONNECT github.com:443`` itself: it speaks TLS with a certificate
for github.com signed by a throw-away test CA (made with the ``openssl`` command) and
serves files from a dict.  :attr:`ReleaseProxy.env` is the environment for a subprocess.

Faults: ``cut`` (the next ``n`` downloads send half the bytes, then close).
"""

import os
import socket
import ssl
import subprocess
from http.server import BaseHTTPRequestHandler

from hub_server import LocalServer

HOST = "github.com"


def make_certificates(folder):
    """A test CA and a certificate for github.com signed by it: (ca.pem, cert, key)."""
    folder = str(folder)
    ca_key, ca, key, csr, cert, ext = (os.path.join(folder, n) for n in (
        "ca.key", "ca.pem", "leaf.key", "leaf.csr", "leaf.pem", "leaf.ext"))
    with open(ext, "w") as f:
        f.write(f"basicConstraints=CA:FALSE\nsubjectAltName=DNS:{HOST}\n"
                "extendedKeyUsage=serverAuth\nsubjectKeyIdentifier=hash\n"
                "authorityKeyIdentifier=keyid\n")
    for cmd in (
            ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", ca_key, "-out", ca,
             "-days", "2", "-subj", "/CN=img2mesh test CA",
             "-addext", "basicConstraints=critical,CA:TRUE",
             "-addext", "keyUsage=critical,keyCertSign,cRLSign"],
            ["req", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", csr,
             "-subj", f"/CN={HOST}"],
            ["x509", "-req", "-in", csr, "-CA", ca, "-CAkey", ca_key, "-CAcreateserial",
             "-out", cert, "-days", "2", "-extfile", ext]):
        subprocess.run(["openssl", *cmd], check=True, capture_output=True)
    return ca, cert, key


class ReleaseProxy(LocalServer):
    def __init__(self, cert_folder):
        self.ca, cert, key = make_certificates(cert_folder)
        self.tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.tls.load_cert_chain(cert, key)
        self.files = {}  # URL path on github.com -> local file
        self.requests = []  # (CONNECT host or GET path)
        self.cuts = 0
        self._serve(_ProxyHandler, "proxy", quiet=(ConnectionError, ssl.SSLError))

    @property
    def env(self):
        return {"HTTPS_PROXY": self.url, "https_proxy": self.url, "NO_PROXY": "",
                "no_proxy": "", "REQUESTS_CA_BUNDLE": self.ca}

    def serve(self, path, local_file):
        self.files[path] = str(local_file)

    def cut(self, times=1):
        self.cuts = times

    def _take_cut(self):
        with self.lock:
            if self.cuts:
                self.cuts -= 1
                return True
        return False



class _ProxyHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    proxy = None

    def log_message(self, *args):
        pass

    def do_CONNECT(self):
        host = self.path.split(":")[0]
        self.proxy.requests.append(("CONNECT", host))
        if host != HOST:
            self.send_error(403, "only github.com here")
            return
        self.send_response(200, "Connection established")
        self.end_headers()
        self.wfile.flush()
        tls_sock = self.proxy.tls.wrap_socket(self.connection, server_side=True)
        _GitHubHandler.proxy = self.proxy
        _GitHubHandler(tls_sock, self.client_address, self.server)
        self.close_connection = True


class _GitHubHandler(BaseHTTPRequestHandler):
    """Requests inside the TLS tunnel, as github.com would get them."""

    protocol_version = "HTTP/1.1"
    proxy = None

    def log_message(self, *args):
        pass

    def do_GET(self):
        path = self.path.split("?")[0]
        self.proxy.requests.append(("GET", path))
        local = self.proxy.files.get(path)
        if local is None:
            body = b"Not Found"
            self.send_response(404)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            return
        with open(local, "rb") as f:
            data = f.read()
        cut = self.proxy._take_cut()
        self.send_response(200)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data[:len(data) // 2] if cut else data)
        self.wfile.flush()
        if cut:
            self.close_connection = True
            try:
                self.connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
