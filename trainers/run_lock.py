"""One writer per run directory, and per-epoch logs repaired before a resumed run reads them.

`run_directory_lock(run_dir)` holds an exclusive `flock` on `<run_dir>/run.lock` for the whole run and
writes the owner's pid into it. A second process on the same directory fails at once with
RunDirectoryBusy naming that pid. The kernel drops a flock when its process dies, so the lock file a
killed run leaves behind is stale and the next run takes it over; nothing has to be cleaned by hand.
(Two trainings appending to one epochs.csv is how a log gets NUL bytes: one process truncates the file,
the other writes at its old, larger offset.)

`repair_log_tail(path)` cuts a line-oriented log (epochs.csv, information_abundance.jsonl) back to its
last intact line: a torn last line (no newline: the process died mid-write) or NUL padding (a file
extended without its data reaching the disk) is dropped, so that resuming does not crash on it.
Run directory layout: docs/design.md, "Run directory".
"""

import contextlib
import fcntl
import os
from typing import Iterator

LOCK_FILE = "run.lock"


class RunDirectoryBusy(RuntimeError):
    """Another live process holds the run directory's lock."""


def lock_owner(handle) -> str:
    handle.seek(0)
    return handle.read().strip() or "unknown"


@contextlib.contextmanager
def run_directory_lock(run_dir: str) -> Iterator[str]:
    """Holds `<run_dir>/run.lock` (created with the directory) for the block; yields the lock file's path."""
    os.makedirs(run_dir, exist_ok=True)
    path = os.path.join(run_dir, LOCK_FILE)
    with open(path, "a+") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise RunDirectoryBusy(
                f"{run_dir} is in use by trainers.fit pid {lock_owner(handle)} (lock {path}); wait for it to "
                "finish or stop it, or choose another --output_dir") from None
        try:
            handle.truncate(0)
            handle.write(f"{os.getpid()}\n")
            handle.flush()
            yield path
        finally:
            handle.truncate(0)
            fcntl.flock(handle, fcntl.LOCK_UN)


def intact_length(data: bytes) -> int:
    """Length of the prefix of `data` made of whole lines without NUL bytes."""
    end = data.rfind(b"\n") + 1
    nul = data.find(b"\x00", 0, end)
    return end if nul < 0 else data.rfind(b"\n", 0, nul) + 1


def repair_log_tail(path: str) -> int:
    """Truncates a line-oriented log after its last intact line; returns the number of bytes dropped."""
    if not os.path.isfile(path):
        return 0
    with open(path, "r+b") as handle:
        data = handle.read()
        keep = intact_length(data)
        if keep < len(data):
            handle.truncate(keep)
    return len(data) - keep
