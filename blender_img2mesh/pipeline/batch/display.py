"""What a batch shows: one progress display for all photos on the terminal (photos done /
total, the photo and stage now, the time left), or the pipeline's JSON events, each tagged
with the photo it belongs to (docs/protocol.md, Batch).
"""

import os
import sys
import time

from ..progress import Reporter, json_sink


def _clock(seconds):
    seconds = int(round(seconds))
    return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}" \
        if seconds >= 3600 else f"{seconds // 60}:{seconds % 60:02d}"


class Display:
    def __init__(self, args, out, stream=None):
        self.json, self.quiet = args.json, args.quiet
        self.out, self.stream = out, stream or sys.stderr
        self.tty = hasattr(self.stream, "isatty") and self.stream.isatty()
        self.total = self.todo = self.done = self.finished = 0
        self.t0 = time.perf_counter()
        self.busy = 0.0  # seconds spent on photos that were converted (not skipped)
        self.current, self.fraction, self.stage = None, 0.0, ""
        self.drawn = False
        if self.json:
            self._emit = json_sink(out)
            Reporter(self._emit).start()

    # ------------------------------------------------------------ helpers

    def _write(self, text):
        if self.drawn:
            self.stream.write("\n")
            self.drawn = False
        self.stream.write(text + "\n")
        self.stream.flush()

    def eta(self):
        """Seconds left: the mean time of the photos converted so far (or the current
        one's pace) times what is left; None before there is anything to go by."""
        processed = self.done + self.fraction
        if processed <= 0.05:
            return None
        elapsed = time.perf_counter() - self.t0
        return max(0.0, elapsed / processed * (self.todo - processed))

    def _draw(self):
        if self.json or self.quiet or not self.tty or self.current is None:
            return
        eta = self.eta()
        left = f"  {_clock(eta)} left" if eta is not None else ""
        name = os.path.basename(self.current["photo"])[:28]
        line = f"\r[{self.finished:>{len(str(self.total))}}/{self.total}]{left}  " \
               f"{name}: {self.stage[:50]}"
        self.stream.write(f"{line:<100}")
        self.stream.flush()
        self.drawn = True

    # ------------------------------------------------------------ the batch

    def fatal(self, err):
        if self.json:
            Reporter(self._emit).error(err)
        else:
            self._write(f"error: {err.one_line()}")

    def begin(self, folder, total, todo, passed_over=0):
        """The plan: photos, those to do, the output folder, and how many image files
        were passed over as results' files (textures, previews, ...)."""
        self.total, self.todo = total, todo
        self.t0 = time.perf_counter()
        if self.json:
            self._emit({"event": "batch_start", "photos": total, "to_do": todo,
                        "skipped": total - todo, "output": folder,
                        "passed_over": passed_over})
        elif not self.quiet:
            skipped = f" ({total - todo} already done)" if total > todo else ""
            passed = f"; {passed_over} file{'s' * (passed_over != 1)} passed over (results' " \
                "textures, previews, sidecars)" if passed_over else ""
            self._write(f"{total} photos -> {folder}{skipped}{passed}")

    def photo_start(self, job, stage="starting"):
        self.current, self.fraction, self.stage = job, 0.0, stage
        self._draw()

    def photo_sink(self, job):
        """The sink of one photo's :class:`Reporter`: JSON events tagged with the photo;
        on the terminal the batch's line redrawn."""
        tag = {"photo": job["index"], "input": job["photo"]}

        def sink(event):
            if self.json:
                self._emit({**event, **tag})
                return
            if event["event"] == "progress":  # (Ray: the photo whose event came last)
                self.current, self.fraction, self.stage = job, event["fraction"], \
                    event["message"]
                self._draw()
            elif event["event"] == "warning" and not self.quiet:
                self._write(f"warning: {os.path.basename(job['photo'])}: {event['message']}")

        return sink

    def photo_done(self, job, rec):
        """One line per photo (failures always; the rest unless --quiet), and the
        ``photo`` event with the batch's count and the time left."""
        self.finished += 1
        if rec["status"] != "skipped":
            self.done += 1
            self.fraction = 0.0
        eta = self.eta() if self.done < self.todo else 0.0
        if self.json:
            self._emit({"event": "photo", "photo": job["index"], "input": job["photo"],
                        "status": rec["status"], "outputs": rec["outputs"],
                        "error": rec["error"], "seconds": rec["seconds"],
                        "node": rec.get("node"), "done": self.finished, "total": self.total,
                        "eta_seconds": None if eta is None else round(eta, 1)})
            return
        name = os.path.basename(job["photo"])
        count = f"[{self.finished:>{len(str(self.total))}}/{self.total}]"
        if rec["status"] == "failed":
            self._write(f"{count} failed {name}: {_one_line(rec['error'])}")
        elif not self.quiet and (rec["status"] == "ok" or not self.tty):
            where = f" on {rec['node'][:8]}" if rec.get("node") else ""
            text = f"-> {os.path.basename(rec['outputs'][0])} in {rec['seconds']:.1f} s" \
                f"{where}" if rec["status"] == "ok" else "already done"
            left = f", {_clock(eta)} left" if eta else ""
            self._write(f"{count} {rec['status']} {name} {text}{left}")
        self._draw()

    def end(self, counts, total, manifest, interrupted=False):
        seconds = round(time.perf_counter() - self.t0, 3)
        if self.json:
            self._emit({"event": "batch", "photos": total, **counts, "seconds": seconds,
                        "interrupted": interrupted, "manifest": manifest})
            return
        state = "interrupted" if interrupted else "done"
        rest = "; run the same command again to finish the rest" if interrupted else ""
        if not self.quiet or counts["failed"] or interrupted:
            self._write(f"batch {state}: {counts['ok']} ok, {counts['failed']} failed, "
                        f"{counts['skipped']} skipped of {total} in {seconds:.1f} s; "
                        f"manifest: {manifest}{rest}")


def _one_line(error):
    text = error["message"]
    if error.get("file") and error["file"] not in text:
        text = f"{text} ({error['file']})"
    if error.get("hint"):
        text = f"{text}: {error['hint']}"
    return text
