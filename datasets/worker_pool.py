"""The converter's forked worker pool: `run_parallel`, the job state shared with the workers, progress
counters and memory trimming.

`_JOB` is set by datasets.conversion before a pool starts and only read by the forked workers, except
the shared progress counters `_tick` adds to.
"""

import concurrent.futures
import ctypes
import multiprocessing
import time

import pyarrow as pa
from tqdm import tqdm


def _libc():
    try:
        return ctypes.CDLL("libc.so.6")
    except OSError:  # not glibc: nothing to trim
        return None


LIBC = _libc()


def return_freed_memory():
    """Hands memory freed by the last block back to the OS (Arrow's pool, then glibc's heap).

    Without this a worker's RSS creeps up with every block although little stays allocated: the
    allocators keep freed pages for reuse, fragmented.
    """
    pa.default_memory_pool().release_unused()
    if LIBC is not None:
        LIBC.malloc_trim(0)


_JOB = {}  # state handed to forked workers (set before the pool starts, read-only there)


def _tick(num_bytes, num_rows):
    for key, amount in (("bytes", num_bytes), ("rows", num_rows)):
        with _JOB[key].get_lock():
            _JOB[key].value += amount


def run_parallel(function, tasks, total, description, workers, unit="bytes"):
    """function(task) for every task, with a progress bar over `total` input bytes or rows (`unit`), showing
    rows/s and the ETA. Several tasks run in a pool of forked workers; one task runs in this process."""
    context = multiprocessing.get_context("fork")
    _JOB["bytes"], _JOB["rows"] = context.Value("q", 0), context.Value("q", 0)
    started = time.time()
    with tqdm(total=total, desc=description, unit="B" if unit == "bytes" else " rows", unit_scale=True,
              mininterval=1) as bar:
        if len(tasks) == 1:
            results = [function(tasks[0])]
            bar.update(_JOB[unit].value - bar.n)
            return results
        with concurrent.futures.ProcessPoolExecutor(min(workers, len(tasks)), mp_context=context) as pool:
            futures = [pool.submit(function, task) for task in tasks]  # a worker that dies raises, never hangs
            while concurrent.futures.wait(futures, timeout=0.2).not_done:
                rows = _JOB["rows"].value
                bar.update(_JOB[unit].value - bar.n)
                bar.set_postfix_str(f"{rows:,} rows, {rows / max(time.time() - started, 1e-9):,.0f} rows/s",
                                    refresh=False)
            return [future.result() for future in futures]
