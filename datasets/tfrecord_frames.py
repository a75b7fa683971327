"""TFRecord framing of many equal-length records at once, in numpy (no TensorFlow import).

A TFRecord file is a sequence of frames: uint64 little-endian length, masked CRC-32C of those 8 bytes,
the record, masked CRC-32C of the record (TensorFlow's record_writer.cc). The converter's records all
have one length within a block, so the length header is one constant and the record checksums are
computed for every row together, two byte columns at a time. The output is byte-identical to
tf.io.TFRecordWriter (tested).
"""

import functools

import numpy as np

CRC32C_POLYNOMIAL = 0x82F63B78  # Castagnoli, bit-reflected
MASK_DELTA = 0xA282EAD8


def _crc32c_table():
    table = np.arange(256, dtype=np.uint32)
    for _ in range(8):
        table = np.where(table & 1, (table >> 1) ^ np.uint32(CRC32C_POLYNOMIAL), table >> 1).astype(np.uint32)
    return table


CRC32C_TABLE = _crc32c_table()
BLOCK_ROWS = 8192  # rows per pass of crc32c_rows: its word and checksum arrays stay in cache


@functools.lru_cache(maxsize=8)
def _pair_tables(length: int) -> tuple[np.ndarray, np.uint32]:
    """(tables (ceil(length / 2), 65536) uint32, CRC-32C of `length` zero bytes) for `crc32c_rows`.

    CRC-32C is linear over GF(2): crc(record) = crc(zeros) ^ the XOR over positions j of B_j(byte j), where
    B_j(b) is what byte b leaves in a zeroed register, shifted through the bytes after it. Row k of the
    tables holds B_2k(lo) ^ B_2k+1(hi) at the index of the little-endian 16-bit word (lo, hi); an odd
    length gets a leading zero byte, which adds nothing.
    """
    padded = length + length % 2
    single = np.empty((padded, 256), np.uint32)
    single[-1] = CRC32C_TABLE
    for position in range(padded - 2, -1, -1):
        single[position] = CRC32C_TABLE[single[position + 1] & 0xFF] ^ (single[position + 1] >> 8)
    pairs = (single[1::2, :, None] ^ single[0::2, None, :]).reshape(padded // 2, 65536)
    register = 0xFFFFFFFF
    for _ in range(length):
        register = int(CRC32C_TABLE[register & 0xFF]) ^ (register >> 8)
    return pairs, np.uint32(register ^ 0xFFFFFFFF)


def crc32c_rows(rows):
    """CRC-32C of each row of a (n, length) uint8 matrix, as uint32[n]: one table lookup per 2 bytes."""
    count, length = rows.shape
    pairs, zeros_crc = _pair_tables(length)
    crc = np.full(count, zeros_crc, dtype=np.uint32)
    for start in range(0, count, BLOCK_ROWS):
        block = rows[start:start + BLOCK_ROWS]
        padded = np.zeros((len(block), 2 * len(pairs)), np.uint8)
        padded[:, length % 2:] = block
        words = np.ascontiguousarray(padded.view("<u2").T)
        for table, column in zip(pairs, words):
            crc[start:start + len(block)] ^= table[column]
    return crc


def masked(crc):
    """TFRecord's checksum masking: rotate right by 15 bits, add a constant (mod 2**32)."""
    crc = crc.astype(np.uint64)
    return ((((crc >> 15) | (crc << 17)) + MASK_DELTA) & 0xFFFFFFFF).astype("<u4")


def frame_header(length: int) -> np.ndarray:
    """The 12 bytes before every record of `length` bytes: its length, then that length's masked CRC-32C."""
    header = np.frombuffer(np.asarray([length], "<u8").tobytes(), np.uint8)
    return np.concatenate([header, masked(crc32c_rows(header[None, :])).view(np.uint8)])


def framed(records):
    """(n, length) uint8 records -> (n, length + 16) uint8 TFRecord frames, one per row."""
    count, length = records.shape
    frames = np.empty((count, length + 16), np.uint8)
    frames[:, :12] = frame_header(length)
    frames[:, 12:12 + length] = records
    frames[:, 12 + length:] = masked(crc32c_rows(records)).view(np.uint8).reshape(count, 4)
    return frames
