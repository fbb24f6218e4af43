"""Launch, feed, read and kill the pipeline worker (no bpy here).

One warm worker (``python -m blender_img2mesh.pipeline.worker``) is kept between jobs so
models stay loaded; cancelling a job stops its whole process group (SIGTERM, then SIGKILL
after a grace period).  Reading never blocks Blender: a thread per pipe puts lines into a
queue that the caller polls.
"""

import atexit
import collections
import itertools
import json
import os
import queue
import signal
import subprocess
import threading
import time

from . import interpreter

WORKER_MODULE = "blender_img2mesh.pipeline.worker"
EOF_EVENT = {"event": "_eof"}
_ids = itertools.count(1)


#: how long a cancelled worker may take to clean up after SIGTERM before SIGKILL
GRACE_SECONDS = 2.0


class WorkerDied(RuntimeError):
    pass


def _signal_group(pgid, sig):
    try:
        os.killpg(pgid, sig)
    except OSError:  # the group is gone already
        pass


class WorkerProcess:
    """One worker process with reader threads for its stdout (events) and stderr (tail)."""

    def __init__(self, python, extra_env=None):
        self.python = python
        env = interpreter.child_env()
        env.update(extra_env or {})
        # the worker ends when Blender dies (pipeline/command/parent_watch.py); the kernel's
        # parent-death signal follows the starting thread, so only from the main thread
        env["IMG2MESH_PARENT_PID"] = str(os.getpid())
        env["IMG2MESH_PDEATHSIG"] = \
            "1" if threading.current_thread() is threading.main_thread() else "0"
        kwargs = {}
        if os.name == "nt":
            kwargs["creationflags"] = subprocess.CREATE_NEW_PROCESS_GROUP
        else:
            kwargs["start_new_session"] = True
        self.proc = subprocess.Popen(
            [python, "-m", WORKER_MODULE], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, env=env, cwd=interpreter.PACKAGE_PARENT,
            text=True, encoding="utf-8", errors="replace", bufsize=1, **kwargs)
        self.pid = self.proc.pid
        #: ids of ``preload`` requests sent and not answered yet (see worker_ahead.py)
        self.preloads = set()
        self.events = queue.Queue()
        self.stderr_tail = collections.deque(maxlen=40)
        self._threads = [
            threading.Thread(target=self._read_stdout, daemon=True, name="img2mesh-out"),
            threading.Thread(target=self._read_stderr, daemon=True, name="img2mesh-err"),
        ]
        for t in self._threads:
            t.start()

    def _read_stdout(self):
        try:
            for line in self.proc.stdout:
                line = line.strip()
                if not line:
                    continue
                try:
                    event = json.loads(line)
                except ValueError:
                    self.stderr_tail.append(line)  # stray text on stdout: keep as a log line
                    continue
                if isinstance(event, dict) and "event" in event:
                    self.events.put(event)
        except (OSError, ValueError):
            pass
        self.events.put(EOF_EVENT)

    def _read_stderr(self):
        try:
            for line in self.proc.stderr:
                if line.strip():
                    self.stderr_tail.append(line.rstrip())
        except (OSError, ValueError):
            pass

    def alive(self):
        return self.proc.poll() is None

    def send(self, request):
        try:
            self.proc.stdin.write(json.dumps(request) + "\n")
            self.proc.stdin.flush()
        except (OSError, ValueError) as exc:
            raise WorkerDied(f"the worker is not running ({exc})") from None

    def last_error_line(self):
        for line in reversed(self.stderr_tail):
            if line.strip() and not line.startswith(" "):
                return line.strip()
        return ""

    def kill(self, grace=GRACE_SECONDS):
        """Stop the worker and everything it started (its process group): SIGTERM first,
        so the worker cleans up (its temporary files) and exits; SIGKILL to whatever is
        left after ``grace`` seconds (or at once on Windows, which has no SIGTERM)."""
        if self.proc.poll() is None:
            if os.name == "nt":
                subprocess.run(["taskkill", "/F", "/T", "/PID", str(self.pid)],
                               capture_output=True)
            else:
                _signal_group(self.pid, signal.SIGTERM)
                try:
                    self.proc.wait(timeout=grace)
                except subprocess.TimeoutExpired:
                    pass
                _signal_group(self.pid, signal.SIGKILL)  # what is left, children included
            try:
                self.proc.kill()
            except OSError:
                pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            pass
        self._close()

    def shutdown(self, timeout=3.0):
        """Ask politely (``shutdown`` request), then kill."""
        if self.proc.poll() is None:
            try:
                self.send({"id": "bye", "cmd": "shutdown"})
                self.proc.stdin.close()
                self.proc.wait(timeout=timeout)
            except (WorkerDied, OSError, ValueError, subprocess.TimeoutExpired):
                pass
        self.kill()

    def _close(self):
        for t in self._threads:
            t.join(timeout=2)
        for pipe in (self.proc.stdin, self.proc.stdout, self.proc.stderr):
            try:
                pipe.close()
            except (OSError, ValueError):
                pass


_lock = threading.Lock()
_warm = None  # the WorkerProcess kept between jobs


def get_worker(python, extra_env=None):
    """The warm worker for ``python`` (started when there is none or it died)."""
    global _warm
    with _lock:
        if _warm is not None and (not _warm.alive() or _warm.python != python
                                  or getattr(_warm, "extra_env", None) != extra_env):
            _warm.shutdown()
            _warm = None
        if _warm is None:
            _warm = WorkerProcess(python, extra_env)
            _warm.extra_env = extra_env
        return _warm


def warm_worker():
    return _warm


def release():
    """Shut the warm worker down (unregister, "Release models", Blender's exit)."""
    global _warm
    with _lock:
        worker, _warm = _warm, None
    if worker is not None:
        worker.shutdown()


def forget(worker):
    global _warm
    with _lock:
        if _warm is worker:
            _warm = None


atexit.register(release)


class Job:
    """One request to the worker; :meth:`poll` returns its new events without blocking."""

    def __init__(self, python, args, extra_env=None):
        self.id = f"job-{os.getpid()}-{next(_ids)}"
        self.args = list(args)
        self.worker = get_worker(python, extra_env)
        self.worker.stderr_tail.clear()
        self.done = False
        self.result = None
        self.error = None  # the error event (dict) when the job failed
        self.worker.send({"id": self.id, "args": self.args})

    def _handle(self, event, out):
        if event is EOF_EVENT:
            code = self.worker.proc.poll()
            if code is None:
                try:
                    code = self.worker.proc.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    code = "?"
            tail = self.worker.last_error_line()
            msg = f"the worker stopped unexpectedly (exit code {code})"
            self.error = {"event": "error", "message": msg + (f": {tail}" if tail else ""),
                          "kind": "internal", "file": None, "hint": None}
            forget(self.worker)
            self.worker.kill()
            self.done = True
            out.append(self.error)
            return
        if event.get("id") in self.worker.preloads:  # the job waits behind a preload
            if event["event"] == "progress":
                out.append({"event": "progress", "stage": "model", "fraction": 0.0,
                            "message": event.get("message") or "Loading models"})
            elif event["event"] in ("result", "error"):
                self.worker.preloads.discard(event["id"])
            return
        if event.get("id") not in (self.id, None):
            return  # a stale event of an earlier job
        if event.get("id") is None and event["event"] != "error":
            return  # the worker's own start event
        out.append(event)
        if event["event"] == "result":
            self.result, self.done = event, True
        elif event["event"] == "error" and event.get("id") == self.id:
            self.error, self.done = event, True

    def poll(self, timeout=0.0):
        """New events (a list, maybe empty).  ``timeout`` > 0 waits for the first one."""
        out = []
        deadline = time.monotonic() + timeout
        while not self.done:
            try:
                wait = max(0.0, deadline - time.monotonic())
                event = self.worker.events.get(timeout=wait) if wait else \
                    self.worker.events.get_nowait()
            except queue.Empty:
                break
            self._handle(event, out)
            deadline = 0  # only the first get may wait
        return out

    def wait(self, on_event=None, poll_interval=0.5):
        """Block until done (used in background mode); returns the result event or None."""
        while not self.done:
            for event in self.poll(timeout=poll_interval):
                if on_event:
                    on_event(event)
        return self.result

    def cancel(self):
        """Stop the worker (the only way to stop a running job): it gets SIGTERM and
        :data:`GRACE_SECONDS` to clean up, then SIGKILL."""
        forget(self.worker)
        self.worker.kill()
        self.done = True


def error_text(event):
    """One line for an error event: the message (and file) as its first sentence, the
    hint -- what to do -- as the next (the popup shows the first, the panel and the
    Info log all of it)."""
    text = (event.get("message") or "unknown error").rstrip(". ")
    if event.get("file") and event["file"] not in text:
        text += f" ({event['file']})"
    hint = str(event.get("hint") or "").strip()
    if not hint:
        return text
    hint = hint[0].upper() + hint[1:]
    return f"{text}. {hint}" if hint.endswith((".", "!", "?")) else f"{text}. {hint}."
