"""Fixed-layout tf.Example bytes of rows of ids, without TensorFlow.

Varints, `ExampleLayout` (each record's bytes filled by numpy; `frame_layout` is schema.json's
"record_layout"), `example_bytes` for a single canonical record, and the ids of a block's raw values
(`column_ids`, `block_ids`). TFRecord framing is datasets.tfrecord_frames. Record layout: docs/design.md.
"""

import numpy as np
import pyarrow.compute as pc


def varint(value):
    out = bytearray()
    while value > 0x7F:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def length_delimited(field_tag, payload):
    return bytes([field_tag]) + varint(len(payload)) + payload


class ExampleLayout:
    """tf.Example bytes for {"ids": int64 list, "label": int64} built from precomputed pieces.

    An Example is Features(1) -> map entries(1) {key(1), Feature(2) -> Int64List(3) -> packed value(1)};
    only the packed ids vary, so each record is prefix[len(packed ids)] + packed ids + label entry.
    """

    def __init__(self, max_packed_bytes):
        self.label_entry = {label: length_delimited(0x0A, length_delimited(0x0A, b"label") + length_delimited(
            0x12, length_delimited(0x1A, length_delimited(0x0A, varint(label))))) for label in (0, 1)}
        self.label_rows = np.stack([np.frombuffer(self.label_entry[label], np.uint8) for label in (0, 1)])
        self.prefix = [self._prefix(size, len(self.label_entry[0])) for size in range(max_packed_bytes + 1)]

    @staticmethod
    def _prefix(size, label_entry_size):
        int64_list = 1 + len(varint(size)) + size
        feature = 1 + len(varint(int64_list)) + int64_list
        entry = 5 + 1 + len(varint(feature)) + feature
        features = 1 + len(varint(entry)) + entry + label_entry_size
        return (b"\x0a" + varint(features) + b"\x0a" + varint(entry) + b"\x0a\x03ids\x12" + varint(feature)
                + b"\x1a" + varint(int64_list) + b"\x0a" + varint(size))

    def frame_layout(self, widths):
        """Where a framed record's pieces sit (schema.json's "record_layout"; TFRecord frame: 12 header bytes)."""
        prefix = len(self.prefix[sum(widths)])
        record = prefix + sum(widths) + len(self.label_entry[0])
        return {"frame_bytes": record + 16, "ids_offset": 12 + prefix, "field_widths": list(widths),
                "label_offset": 12 + record - 1}

    def records(self, ids, labels, widths):
        """Serialized tf.Examples of a block as one (rows, record bytes) uint8 matrix.

        Field f's id is a varint padded to widths[f] bytes (continuation bits on the leading bytes; protobuf
        decoders, TF's parse_example included, accept padded varints), so every record has the same layout.
        """
        columns = [np.frombuffer(self.prefix[sum(widths)], np.uint8)[None, :].repeat(len(ids), 0)]
        for field, width in enumerate(widths):
            values = ids[:, field].astype(np.uint64)
            for index in range(width):
                byte = (values >> np.uint64(7 * index)) & np.uint64(0x7F)
                columns.append((byte | np.uint64(0x80 if index < width - 1 else 0)).astype(np.uint8)[:, None])
        columns.append(self.label_rows[labels])
        return np.concatenate(columns, axis=1)


def varint_width(max_value):
    """Bytes of the varint encoding of max_value (at least 1)."""
    return max(1, (int(max_value).bit_length() + 6) // 7)


def example_bytes(ids, label):
    """Serialized tf.Example with int64 lists `ids` and [label], canonical encoding (tests, serving warm-up)."""
    packed = b"".join(varint(i) for i in ids)
    layout = ExampleLayout(len(packed))
    return layout.prefix[len(packed)] + packed + layout.label_entry[int(label)]


def column_ids(values, lookup):
    """int64 ids of an Arrow string array (unknown raw values -> OOV_ID); lookup from `raw_lookup`."""
    keys, ids_of = lookup
    return ids_of[pc.index_in(values, value_set=keys).fill_null(len(keys)).to_numpy()]


def block_ids(columns, lookups):
    """(rows, fields) int64 ids of a block's Arrow columns."""
    return np.stack([column_ids(column, lookup) for column, lookup in zip(columns, lookups)], axis=1)
