"""Incremental runs: the files earlier runs read, the run's own listing, and the output's lock."""
from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import socket

from apache_beam.io.filesystems import FileSystems

from schemas.layout import OutputLayout
from schemas.records import UTC

FileMeta = tuple[int, float]  # (size in bytes, modification time)


class LockHeld(Exception):
    """Another run holds the output's lock."""


def read_before(layout: OutputLayout) -> set[tuple[str, int, float]]:
    """(path, size, mtime) of every file an earlier committed run into the output read."""
    seen = set()
    for m in FileSystems.match([layout.files_listings_glob()])[0].metadata_list:
        with FileSystems.open(m.path) as f:
            for line in f.read().decode("utf-8").splitlines():
                if line.strip():
                    rec = json.loads(line)
                    seen.add((_resolved(rec["path"]), int(rec["size"]), float(rec["mtime"])))
    return seen


def _resolved(path: str) -> str:
    """A listed path as runs identify files now: resolved (runs before that listed paths as the user spelled them,
    relative to the directory they ran in, which a scheduled job keeps)."""
    return path if "://" in path or os.path.isabs(path) else os.path.realpath(path)


def only_unread(files: dict[str, FileMeta], seen: set[tuple[str, int, float]]) -> dict[str, FileMeta]:
    """The files no earlier run read with the same path, size and modification time."""
    return {path: meta for path, meta in files.items() if (path, *meta) not in seen}


def write_listing(path: str, files: dict[str, FileMeta]) -> str:
    """The run's file list (JSON Lines of {"path", "size", "mtime"}) at `path`; the pipeline reads the files it names."""
    folder = path.rsplit("/", 1)[0]
    if not FileSystems.exists(folder):
        FileSystems.mkdirs(folder)
    lines = (json.dumps({"path": p, "size": size, "mtime": mtime}) + "\n" for p, (size, mtime) in sorted(files.items()))
    with FileSystems.create(path) as f:
        f.write("".join(lines).encode("utf-8"))
    return path



def _holder_text(holder: dict) -> str:
    return (f"{holder.get('run_id')}, pid {holder.get('pid')} on {holder.get('host')}, started {holder.get('started_at')}")


@contextlib.contextmanager
def output_lock(layout: OutputLayout, run_id: str, out):
    """Hold `<output>/_state/only_new.lock` from reading the earlier runs' state to publishing.

    Two runs into one output at once (a scheduled run that outlasts its interval) would read the same new files
    and both commit them, neither seeing the other's articles; the second one stops with LockHeld instead.

    The lock is an exclusive `flock` on the lock file: taking it is one atomic step with one winner, and the
    kernel releases it when its process dies, so a killed run never blocks the next one. The file also names its
    holder (run, pid, host) for the message, and is emptied on release; a holder named by a file whose lock is
    free is a killed run of this host (taken over, with a note), or a run on another host that this one cannot
    check through a shared folder (then this run stops). Local outputs only: object stores have no such lock, so
    there the scheduler must not start overlapping runs.
    """
    if "://" in layout.root:
        yield
        return
    import fcntl

    path = layout.lock
    os.makedirs(os.path.dirname(path), exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise LockHeld(
                f"another run ({_holder_text(_read_holder(fd))}) is writing to {layout.root}; this run would read the "
                "same new files, so it stops"
            ) from None
        holder = _read_holder(fd)
        if holder:
            if holder.get("host") != socket.gethostname():
                raise LockHeld(
                    f"{path} names a run on another host ({_holder_text(holder)}) that this host cannot check; "
                    f"if no such run is going, remove {path}"
                )
            print(f"note: taking over the lock of run {holder.get('run_id', '?')}, whose process is gone ({path})",
                  file=out, flush=True)
        me = {"run_id": run_id, "pid": os.getpid(), "host": socket.gethostname(), "started_at": dt.datetime.now(UTC).isoformat()}
        _write_holder(fd, me)
        try:
            yield
        finally:
            _write_holder(fd, None)
    finally:
        os.close(fd)  # closing the file releases the flock


def _read_holder(fd: int) -> dict:
    os.lseek(fd, 0, os.SEEK_SET)
    data = b""
    while chunk := os.read(fd, 65536):
        data += chunk
    try:
        holder = json.loads(data.decode("utf-8")) if data.strip() else {}
    except ValueError:
        holder = {"run_id": "?", "pid": "?", "host": "?"}
    return holder if isinstance(holder, dict) else {}


def _write_holder(fd: int, holder: dict | None) -> None:
    os.ftruncate(fd, 0)
    if holder:
        os.pwrite(fd, json.dumps(holder).encode("utf-8"), 0)
    os.fsync(fd)
