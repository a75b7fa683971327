"""A numpy reader of the converter's TFRecord shards: no TensorFlow, for the JAX backend.

The converter writes every record of a data set with one byte layout (each field's id a varint padded
to a fixed width; docs/design.md, "schema.json"), which `schema.json` records under "record_layout".
So a shard is a (rows, frame_bytes) byte matrix: this reader memory-maps it, checks every record's
length header and CRC-32C once (as tf.data checks every record it reads), gathers a batch's rows and
decodes every field's id with a few vectorised operations. It yields the same rows as the tf.data
reader (`datasets/reader.py`) for each split; the order differs when shuffling.
"""

import os
from collections.abc import Iterator

import numpy as np

from datasets.prefetch import ordered_map
from datasets.schema import load_schema
from datasets.tfrecord_frames import crc32c_rows, frame_header, masked

CRC_BLOCK_ROWS = 65536  # rows read from a shard per CRC pass


class CorruptShardError(ValueError):
    """A shard's size, length headers or checksums do not match the schema's record layout: refused with its path."""


class NumpyReader:
    """Batches (ids int32 (batch, N), labels float32 (batch, 1)) of one split, from memory-mapped shards.

    Args:
        data_dir: a directory written by `python -m datasets.criteo` / `datasets.avazu`.
        split: "train", "val" or "test".
        batch_size: rows per batch of this process; the global batch is batch_size x process_count.
        shuffle: draw a new seeded permutation of the rows for every epoch.
        seed: the permutation's seed: epoch e of seed s is the same on every run.
        process_index, process_count: this process's share of the rows, for data parallelism over processes:
            the process_index-th block of batch_size rows of every global batch, which is cut from the
            epoch's order and sorted as one process reads it. So the processes' batches, concatenated in
            process order, are the one-process batches of batch_size x process_count rows, row for row,
            and every process has the same number of batches per epoch (a collective waits for all of
            them): in the last global batch a process may get fewer rows, or none; `padded_batch` fills
            them up, and the filler rows come after all the real ones of the global batch.

    Raises:
        CorruptShardError: when it opens a shard whose size, a length header or a CRC-32C is wrong
            (every record is checked: about 3 ms per MB on one CPU core).
    """

    def __init__(self, data_dir: str, split: str, batch_size: int, shuffle: bool = False, seed: int = 0,
                 process_index: int = 0, process_count: int = 1):
        if batch_size < 1 or not 0 <= process_index < process_count:
            raise ValueError(f"batch_size must be positive and 0 <= process_index < process_count, got "
                             f"{batch_size}, {process_index}, {process_count}")
        schema = load_schema(data_dir)
        if "record_layout" not in schema:
            raise ValueError(f"{data_dir}/schema.json has no record_layout: it was converted by an older version; "
                             "convert the raw file again")
        self.layout = schema["record_layout"]
        self.batch_size, self.shuffle, self.seed = batch_size, shuffle, seed
        self.process_index, self.process_count = process_index, process_count
        self.shards = [self._open(os.path.join(data_dir, name)) for name in schema["shards"][split]]
        self._shard_starts = np.cumsum([0] + [len(shard) for shard in self.shards])
        # Byte k of every field's varint: its frame column and the mask of its 7 bits (0 where the field is narrower).
        widths = np.array(self.layout["field_widths"])
        starts = self.layout["ids_offset"] + np.concatenate([[0], np.cumsum(widths)[:-1]]).astype(np.intp)
        self._byte_columns = [np.where(widths > k, starts + k, starts) for k in range(widths.max())]
        self._byte_masks = [np.where(widths > k, 0x7F, 0).astype(np.uint8) for k in range(widths.max())]

    def _open(self, path: str) -> np.ndarray:
        """One shard as a (rows, frame_bytes) matrix, memory-mapped, after checking every record's frame."""
        frame_bytes = self.layout["frame_bytes"]
        size = os.path.getsize(path)
        if size % frame_bytes:
            raise CorruptShardError(f"{path}: {size} bytes is not a whole number of {frame_bytes}-byte records")
        if size == 0:
            return np.empty((0, frame_bytes), np.uint8)
        frames = np.memmap(path, np.uint8, mode="r", shape=(size // frame_bytes, frame_bytes))
        header = frame_header(frame_bytes - 16)
        for start in range(0, len(frames), CRC_BLOCK_ROWS):
            block = np.asarray(frames[start:start + CRC_BLOCK_ROWS])
            _check_block(path, start, np.any(block[:, :12] != header, axis=1), "length header or its CRC-32C")
            expected = block[:, -4:].copy().view("<u4")[:, 0]
            _check_block(path, start, masked(crc32c_rows(block[:, 12:-4])) != expected, "CRC-32C")
        return frames

    @property
    def total_rows(self) -> int:
        """Rows of the split, over all processes."""
        return int(self._shard_starts[-1])

    @property
    def global_batch_size(self) -> int:
        """Rows of one batch over all processes."""
        return self.batch_size * self.process_count

    def __len__(self) -> int:
        """Batches per epoch, the same on every process."""
        return -(-self.total_rows // self.global_batch_size)

    def epoch_order(self, epoch: int) -> np.ndarray:
        """Every process's row indices in `epoch`, in order (a global batch is the next global_batch_size)."""
        return (np.random.default_rng([self.seed, epoch]).permutation(self.total_rows) if self.shuffle
                else np.arange(self.total_rows))

    def own_block(self, global_rows: np.ndarray) -> np.ndarray:
        """This process's block of a global batch's row indices, sorted (the shards are read in order)."""
        start = self.process_index * self.batch_size
        return np.sort(global_rows)[start:start + self.batch_size]

    def epoch(self, epoch: int = 0, skip_batches: int = 0) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """The batches of `epoch`, from batch `skip_batches` on (a resumed epoch skips what it has done); the
        last ones may be short or empty (see the class)."""
        order = self.epoch_order(epoch)
        for batch in range(skip_batches, len(self)):
            yield self.decode(self.batch_rows(order, batch))

    def labels(self) -> np.ndarray:
        """The split's labels, all processes' rows, in epoch 0's order (file order unless shuffling): the order
        of the real rows of the global batches. float32 (n, 1), read from the label byte alone: no ids are decoded."""
        column = np.concatenate([shard[:, self.layout["label_offset"]] for shard in self.shards])
        return column[self.epoch_order(0)].astype(np.float32)[:, None]

    def full_batches(self, skip_batches: int = 0, workers: int = 0) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """Full batches forever: the epochs' orders one after another, cut into global batches, this process's
        block of each.

        Training reads this: every batch has one shape (one compiled step, and an even split between
        devices), and skipping `skip_batches` resumes the stream exactly where an interrupted run stopped.
        With `workers` > 0 that many threads decode the next batches ahead of the reader (the same
        stream, in the same order: `datasets.prefetch.ordered_map`).
        """
        return ordered_map(self.decode, self.full_batch_rows(skip_batches), workers)

    def full_batch_rows(self, skip_batches: int = 0) -> Iterator[np.ndarray]:
        """This process's sorted row indices of every batch of `full_batches`."""
        size = self.global_batch_size
        epoch, offset = divmod(skip_batches * size, self.total_rows)
        pending = self.epoch_order(epoch)[offset:]
        while True:
            while len(pending) < size:
                epoch += 1
                pending = np.concatenate([pending, self.epoch_order(epoch)])
            yield self.own_block(pending[:size])
            pending = pending[size:]

    def batch_rows(self, order: np.ndarray, batch: int) -> np.ndarray:
        """This process's sorted rows of batch number `batch` of an epoch's order (short or empty in the last)."""
        return self.own_block(order[batch * self.global_batch_size:(batch + 1) * self.global_batch_size])

    def padded_batch(self, order: np.ndarray, batch: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Batch number `batch` of an epoch's order, then copies of the split's first row up to `batch_size`
        rows: ids, labels and weights float32 (batch_size,), 1 for the batch's rows and 0 for the filler."""
        rows = self.batch_rows(order, batch)
        filler = self.batch_size - len(rows)
        decoded = self.decode(np.concatenate([np.zeros(filler, rows.dtype), rows]))  # row 0 sorts first
        ids, labels = (np.roll(array, -filler, axis=0) for array in decoded)
        return ids, labels, (np.arange(self.batch_size) < len(rows)).astype(np.float32)

    def gather(self, rows: np.ndarray) -> np.ndarray:
        """The frames of the given (sorted) global row indices, shard by shard."""
        bounds = np.searchsorted(rows, self._shard_starts)
        return np.concatenate([np.empty((0, self.layout["frame_bytes"]), np.uint8)] +
                              [shard[rows[start:end] - offset] for shard, offset, start, end
                               in zip(self.shards, self._shard_starts, bounds[:-1], bounds[1:]) if end > start])

    def decode(self, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """ids int32 (len(rows), N) and labels float32 (len(rows), 1) of the given sorted rows."""
        frames = self.gather(rows)
        ids = (frames[:, self._byte_columns[0]] & self._byte_masks[0]).astype(np.int32)
        for k in range(1, len(self._byte_columns)):  # the 7-bit groups do not overlap: OR adds them
            ids |= (frames[:, self._byte_columns[k]] & self._byte_masks[k]).astype(np.int32) << (7 * k)
        labels = frames[:, self.layout["label_offset"]].astype(np.float32)[:, None]
        return ids, labels


def _check_block(path: str, start: int, bad: np.ndarray, what: str) -> None:
    """Refuses the shard at the first record of a block (which starts at record `start`) where `bad` is set."""
    if np.any(bad):
        raise CorruptShardError(f"{path}: record {start + int(np.argmax(bad))} fails its {what} check")
