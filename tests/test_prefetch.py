import random
import threading
import time

import numpy as np

from datasets.numpy_reader import NumpyReader
from datasets.prefetch import ordered_map


def test_ordered_map_keeps_the_input_order_when_workers_finish_out_of_order():
    rng = random.Random(0)
    delays = [rng.choice([0.0, 0.003]) for _ in range(40)]
    threads = set()

    def slow_square(index):
        threads.add(threading.current_thread().name)
        time.sleep(delays[index])
        return index * index

    assert list(ordered_map(slow_square, range(40), workers=4)) == [i * i for i in range(40)]
    assert len(threads) > 1 and all(name.startswith("prefetch") for name in threads)


def test_ordered_map_reads_at_most_depth_items_ahead_of_its_consumer():
    read = []

    def items():
        for index in range(100):
            read.append(index)
            yield index

    stream = ordered_map(lambda x: x, items(), workers=2, depth=3)
    assert next(stream) == 0 and len(read) == 3
    stream.close()


def test_prefetched_train_batches_equal_the_unprefetched_stream_and_resume_alike(criteo_10k_dir):
    reader = NumpyReader(criteo_10k_dir, "train", 700, shuffle=True, seed=3)
    for skip in (0, 13):
        plain, prefetched = reader.full_batches(skip), reader.full_batches(skip, workers=3)
        for _ in range(15):  # 700 x 15 rows: past the end of the first pass
            for expected, got in zip(next(plain), next(prefetched)):
                np.testing.assert_array_equal(got, expected)
