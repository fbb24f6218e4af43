"""A small local imitation of the Hugging Face Hub's HTTP API, for tests that run the
real download code (``huggingface_hub.snapshot_download``) against it: point
``HF_ENDPOINT`` at :attr:`FakeHub.url` (in a subprocess's environment, or before
huggingface_hub is imported) and serve folders as model repositories.

Routes (what huggingface_hub 2.x calls for a download):

``GET /api/models/{org}/{name}/revision/{rev}``   model info: ``id``, ``sha``, ``siblings``
``GET /api/models/{org}/{name}/tree/{rev}[/{dir}]``  the files (``path``, ``size``, ``oid``)
``HEAD|GET /{org}/{name}/resolve/{rev}/{file}``   the file, with ``ETag``, ``X-Repo-Commit``,
                                                  ``Content-Length``; ``Range: bytes=N-``
                                                  gets ``206`` and ``Content-Range``

An unknown repository or file is a 404 with the hub's ``X-Error-Code`` (``RepoNotFound``,
``EntryNotFound``).  Faults per file (a glob on the path in the repository), see
:meth:`FakeHub.fault`: ``cut`` (send half the bytes, then close the connection), ``404``,
``slow`` (sleep after every chunk).  Standard library only: the Blender tests use it too.
"""

import fnmatch
import hashlib
import json
import os
import re
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import unquote, urlsplit

CHUNK = 16 * 1024


def _files(folder):
    """Every file under ``folder`` as a '/'-separated path relative to it, sorted."""
    out = []
    for root, dirs, names in os.walk(folder):
        dirs[:] = [d for d in dirs if d != ".cache"]
        for name in names:
            out.append(os.path.relpath(os.path.join(root, name), folder).replace(os.sep, "/"))
    return sorted(out)


def _sha1(data):
    return hashlib.sha1(data).hexdigest()


class LocalServer:
    """A threaded HTTP server on 127.0.0.1 (a free port) for a test: its request
    handler class (a subclass of ``handler``) reaches this object as ``handler.<attr>``;
    clients that go away mid-answer are no error (``quiet`` exceptions)."""

    def _serve(self, handler, attr, quiet=(ConnectionError,)):
        class Handler(handler):
            pass

        class Server(_Server):
            ignored = quiet

        setattr(Handler, attr, self)
        self.lock = threading.Lock()
        self.server = Server(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def start(self):
        self.thread.start()
        return self

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


class FakeHub(LocalServer):
    """The server, its repositories (``add``), its faults (``fault``) and a log of the
    requests it answered (``requests``: ``(method, path, range header or None)``)."""

    def __init__(self):
        self.repos = {}  # repo id -> folder
        self.faults = []  # [pattern, mode, times left or None, delay]
        self.requests = []
        self._serve(_Handler, "hub")

    @property
    def env(self):
        """Environment for a subprocess that is to download from this server."""
        return {"HF_ENDPOINT": self.url, "HF_HUB_OFFLINE": "0", "HF_HUB_DISABLE_XET": "1"}

    def add(self, repo_id, folder):
        """Serve ``folder`` as the model repository ``repo_id`` (``org/name``)."""
        self.repos[repo_id] = str(folder)
        return repo_id

    def fault(self, pattern, mode, times=None, delay=0.2):
        """Files matching ``pattern`` fail: ``cut`` (half the bytes, then the connection
        is closed), ``404``, or ``slow`` (``delay`` seconds after every 16 KB chunk);
        ``times`` requests long (None: always)."""
        assert mode in ("cut", "404", "slow"), mode
        self.faults.append([pattern, mode, times, delay])

    def clear_faults(self):
        self.faults.clear()

    def commit(self, repo_id):
        """The repository's (made-up) commit hash: changes with its content."""
        h = hashlib.sha1(repo_id.encode())
        folder = self.repos[repo_id]
        for rel in _files(folder):
            with open(os.path.join(folder, rel), "rb") as f:
                h.update(rel.encode() + b"\0" + hashlib.sha1(f.read()).digest())
        return h.hexdigest()

    def _fault_for(self, path):
        with self.lock:
            for entry in self.faults:
                pattern, mode, times, delay = entry
                if fnmatch.fnmatch(path, pattern) and times != 0:
                    if times is not None:
                        entry[2] = times - 1
                    return mode, delay
        return None, 0.0

    def got(self, method, path, rng):
        with self.lock:
            self.requests.append((method, path, rng))

    def fetched(self, file_glob):
        """The GET requests for files matching ``file_glob`` (their Range headers)."""
        return [r for m, p, r in list(self.requests)
                if m == "GET" and "/resolve/" in p
                and fnmatch.fnmatch(p.split("/resolve/", 1)[1].split("/", 1)[1], file_glob)]


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    ignored = (ConnectionError,)

    def handle_error(self, request, client_address):
        """A client that went away (a cancelled or killed download) is no error here."""
        import sys

        if not isinstance(sys.exc_info()[1], self.ignored):
            super().handle_error(request, client_address)


_INFO = re.compile(r"^/api/models/([^/]+/[^/]+)/revision/([^/]+)$")
_TREE = re.compile(r"^/api/models/([^/]+/[^/]+)/tree/([^/]+)(?:/(.*))?$")
_RESOLVE = re.compile(r"^/([^/]+/[^/]+)/resolve/([^/]+)/(.+)$")


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    hub = None  # set on a subclass per server

    def log_message(self, *args):  # quiet
        pass

    def do_HEAD(self):
        self._route(head=True)

    def do_GET(self):
        self._route(head=False)

    # ------------------------------------------------------------ answers

    def _send(self, status, body=b"", headers=None, head=False):
        self.send_response(status)
        for k, v in (headers or {}).items():
            self.send_header(k, str(v))
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if not head:
            self.wfile.write(body)

    def _json(self, data, head):
        self._send(200, json.dumps(data).encode(), {"Content-Type": "application/json"}, head)

    def _missing(self, code, message, head, commit=None):
        headers = {"X-Error-Code": code, "X-Error-Message": message,
                   "Content-Type": "application/json"}
        if commit:
            headers["X-Repo-Commit"] = commit
        self._send(404, json.dumps({"error": message}).encode(), headers, head)

    def _repo(self, repo_id, rev, head):
        if repo_id not in self.hub.repos:
            self._missing("RepoNotFound", "Repository not found", head)
            return None
        commit = self.hub.commit(repo_id)
        if rev not in ("main", commit):
            self._missing("RevisionNotFound", f"Invalid rev id: {rev}", head)
            return None
        return commit

    def _route(self, head):
        path = unquote(urlsplit(self.path).path)
        self.hub.got(self.command, path, self.headers.get("Range"))
        m = _INFO.match(path)
        if m:
            commit = self._repo(m[1], m[2], head)
            if commit:
                files = _files(self.hub.repos[m[1]])
                self._json({"id": m[1], "modelId": m[1], "sha": commit, "private": False,
                            "siblings": [{"rfilename": f} for f in files]}, head)
            return
        m = _TREE.match(path)
        if m:
            if self._repo(m[1], m[2], head):
                self._json(self._tree(self.hub.repos[m[1]], m[3] or ""), head)
            return
        m = _RESOLVE.match(path)
        if m:
            commit = self._repo(m[1], m[2], head)
            if commit:
                self._file(self.hub.repos[m[1]], m[3], commit, head)
            return
        self._send(404, b"not found", head=head)

    @staticmethod
    def _tree(folder, under):
        entries = []
        for rel in _files(folder):
            if under and not rel.startswith(under.rstrip("/") + "/"):
                continue
            with open(os.path.join(folder, rel), "rb") as f:
                data = f.read()
            entries.append({"type": "file", "path": rel, "size": len(data),
                            "oid": _sha1(data)})
        return entries

    def _file(self, folder, rel, commit, head):
        full = os.path.join(folder, *rel.split("/"))
        if rel.startswith(".cache/") or ".." in rel.split("/") or not os.path.isfile(full):
            self._missing("EntryNotFound", f"{rel} does not exist", head, commit)
            return
        mode, delay = self.hub._fault_for(rel) if not head else (None, 0.0)
        if mode == "404":
            self._missing("EntryNotFound", f"{rel} does not exist", head, commit)
            return
        with open(full, "rb") as f:
            data = f.read()
        headers = {"ETag": f'"{_sha1(data)}"', "X-Repo-Commit": commit,
                   "Accept-Ranges": "bytes", "Content-Type": "application/octet-stream"}
        start = 0
        rng = re.fullmatch(r"bytes=(\d+)-", self.headers.get("Range") or "")
        if rng and not head:
            start = int(rng[1])
            headers["Content-Range"] = f"bytes {start}-{len(data) - 1}/{len(data)}"
        body = data[start:]
        self.send_response(206 if start else 200)
        for k, v in headers.items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if head:
            return
        if mode == "cut":
            body = body[:len(body) // 2]
        for i in range(0, len(body), CHUNK):
            try:
                self.wfile.write(body[i:i + CHUNK])
                self.wfile.flush()
            except OSError:  # the client went away (cancelled)
                self.close_connection = True
                return
            if mode == "slow":
                time.sleep(delay)
        if mode == "cut":
            self.close_connection = True
            try:
                self.connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
