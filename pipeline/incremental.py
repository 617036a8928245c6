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
    """Another incremental run holds the output's lock (or keeps taking it)."""


def read_before(layout: OutputLayout) -> set[tuple[str, int, float]]:
    """(path, size, mtime) of every file an earlier committed run into the output read."""
    seen = set()
    for m in FileSystems.match([layout.files_listings_glob()])[0].metadata_list:
        with FileSystems.open(m.path) as f:
            for line in f.read().decode("utf-8").splitlines():
                if line.strip():
                    rec = json.loads(line)
                    seen.add((rec["path"], int(rec["size"]), float(rec["mtime"])))
    return seen


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



def _lock_holder_alive(holder: dict) -> bool:
    """Whether the run that wrote a lock file may still be going: its process exists on this host, or it ran on
    another host (which this one cannot check)."""
    if holder.get("host") != socket.gethostname():
        return True
    try:
        os.kill(int(holder["pid"]), 0)
    except ProcessLookupError:
        return False
    except (PermissionError, KeyError, TypeError, ValueError):
        return True
    return True


def _take_lock(mine: str, path: str, output: str, out) -> None:
    """Hard-link the written lock file `mine` into place at `path`, which fails if `path` exists, so a lock
    appears whole or not at all; a lock left by a process that is gone is removed and taken once."""
    for _ in range(2):
        try:
            os.link(mine, path)
            return
        except FileExistsError:
            pass
        try:
            with open(path, encoding="utf-8") as f:
                holder = json.load(f)
        except (OSError, ValueError):
            holder = {}
        if holder and _lock_holder_alive(holder):
            raise LockHeld(
                f"another run ({holder.get('run_id')}, pid {holder.get('pid')} on {holder.get('host')}, "
                f"started {holder.get('started_at')}) is writing to {output}; this run would read the same new "
                f"files, so it stops. If no such run is going, remove {path}."
            )
        print(f"note: taking over the lock of run {holder.get('run_id', '?')}, whose process is gone ({path})",
              file=out, flush=True)
        with contextlib.suppress(FileNotFoundError):
            os.remove(path)
    raise LockHeld(f"could not take the lock {path}: another run keeps taking it")


@contextlib.contextmanager
def output_lock(layout: OutputLayout, run_id: str, out):
    """Hold `<output>/_state/only_new.lock` from reading the earlier runs' state to publishing.

    Two incremental runs into one output at once (a scheduled run that outlasts its interval) would read the
    same new files and both commit them, neither seeing the other's articles. The second one stops with
    LockHeld instead. A lock whose process is gone (killed run) is taken over. Local outputs only: object
    stores have no atomic create through Beam's FileSystems, so there the scheduler must not overlap runs.
    """
    if "://" in layout.root:
        yield
        return
    path = layout.lock
    os.makedirs(os.path.dirname(path), exist_ok=True)
    mine = f"{path}.{os.getpid()}.{run_id}"
    with open(mine, "w", encoding="utf-8") as f:
        json.dump({"run_id": run_id, "pid": os.getpid(), "host": socket.gethostname(),
                   "started_at": dt.datetime.now(UTC).isoformat()}, f)
    try:
        _take_lock(mine, path, layout.root, out)
    finally:
        os.remove(mine)
    try:
        yield
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.remove(path)
