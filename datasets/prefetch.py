"""Ordered, bounded prefetch: a function mapped over an iterable by worker threads, results in input order.

The JAX path decodes its batches with numpy (`datasets/numpy_reader.py`), whose fancy indexing and ufuncs
release the GIL: decoding the next batches in threads overlaps the training thread's dispatch and scales with
the host's cores.
"""

import collections
import concurrent.futures
from collections.abc import Callable, Iterable, Iterator
from typing import TypeVar

Item = TypeVar("Item")
Result = TypeVar("Result")


def ordered_map(function: Callable[[Item], Result], items: Iterable[Item], workers: int,
                depth: int = 0) -> Iterator[Result]:
    """`map(function, items)` computed ahead by `workers` threads, at most `depth` results ahead of the consumer.

    Args:
        function: called on every item, in a worker thread; it must not depend on the order of the calls.
        items: read lazily on the consumer's thread (it may be infinite).
        workers: worker threads; 0 computes each result on the consumer's thread when it is asked for.
        depth: results computed or in flight ahead of the consumer; 0 means 2 x workers.

    Returns:
        An iterator of function(item) in the order of `items`: the same stream as `map(function, items)`.
        Closing it (or a consumer that stops reading) drops what was prefetched.

    Example:

    >>> list(ordered_map(lambda x: x * x, range(5), workers=2))
    [0, 1, 4, 9, 16]
    """
    if workers < 1:
        yield from map(function, items)
        return
    depth = depth or 2 * workers
    with concurrent.futures.ThreadPoolExecutor(workers, thread_name_prefix="prefetch") as pool:
        pending = collections.deque()
        try:
            for item in items:
                pending.append(pool.submit(function, item))
                if len(pending) >= depth:
                    yield pending.popleft().result()
            while pending:
                yield pending.popleft().result()
        finally:
            for future in pending:
                future.cancel()
