"""Keras callbacks: information abundance after every epoch (paper Section 3) and training throughput."""

import json
import os
import time
from collections.abc import Callable
from typing import TypeAlias

import keras
import numpy as np

from tf_multiemb.collapse import field_embedding_information_abundance, information_abundance
from tf_multiemb.layers.field_embedding import FieldEmbedding


TableSource: TypeAlias = keras.layers.Layer | keras.Variable | np.ndarray


class InformationAbundance(keras.callbacks.Callback):
    """Logs the information abundance of a model's embedding tables after every epoch (or every N steps).

    Works on any Keras model. Without `tables` it finds the model's embedding layers: this
    library's `FieldEmbedding` (one entry per field, with the IA of each embedding set under
    "sets"), and `keras.layers.Embedding` and its subclasses, keras-rs embedding layers included
    (one entry per table, named by its layer). Given `field_rows`, a single shared table is split
    into one entry per field instead. Each record is one JSON line: {"epoch", "step" (with
    `every_n_steps`), "mean_ia", "fields": {name: {"ia": ..., "sets": [...]}}}. After an epoch the
    mean is also added to the epoch logs as `ia_mean`, so a `keras.callbacks.TensorBoard` placed
    after this callback draws it; `scalar_writer` receives every value as well.

    Args:
        tables: list or dict, or None. The tables to measure: Keras layers (`FieldEmbedding`,
            `keras.layers.Embedding`), `keras.Variable`s or numpy arrays of shape (rows, K); a dict
            names them, a list by layer name, variable path (as "user_table/embeddings") or
            position ("table_0"). `None` finds the model's embedding layers. Defaults to `None`.
        field_rows: dict or list, or None. Row ranges [start, end) of the fields within the one
            table given or found, as {name: (start, end)} or a list (named "field_0", ...).
            Defaults to `None`.
        log_file: str or os.PathLike, or None. The JSON-lines file to append to; `None` keeps the
            records in `self.records` only. Defaults to `None`.
        every_n_steps: int or None. Also log every N training steps. With `steps_per_execution` > 1
            Keras calls the batch hooks every `steps_per_execution` steps: a record is then written at
            the first step seen at or after each multiple of N, and its "step" is that step. Without it
            the callback is `async_safe` (its batch hook only counts). Defaults to `None` (epochs only).
        field_names: list of str or None. Names of a `FieldEmbedding`'s fields; `None` uses
            "field_0", ... Defaults to `None`.
        scalar_writer: callable or None. Called as scalar_writer(tag, value, step) for the mean
            ("information_abundance/mean") and every entry ("information_abundance/{name}");
            the step is the epoch number, or the global step with `every_n_steps`. Defaults to `None`.

    Example:

    >>> import json, os, tempfile
    >>> import numpy as np
    >>> inputs = [keras.Input((1,), dtype="int32", name=f) for f in ("user", "item")]
    >>> embedded = [keras.layers.Embedding(n, 4, name=f"{f}_table")(x)
    ...             for f, n, x in zip(("user", "item"), (5, 7), inputs)]
    >>> output = keras.layers.Dense(1, activation="sigmoid")(keras.layers.Flatten()(keras.layers.Concatenate()(embedded)))
    >>> model = keras.Model(inputs, output)
    >>> model.compile(optimizer="adam", loss="binary_crossentropy")
    >>> log_file = os.path.join(tempfile.mkdtemp(), "ia.jsonl")
    >>> ids = [np.array([[0], [4]] * 4), np.array([[1], [6]] * 4)]
    >>> history = model.fit(ids, np.array([[0.0], [1.0]] * 4), epochs=2, verbose=0,
    ...                     callbacks=[InformationAbundance(log_file=log_file)])
    >>> records = [json.loads(line) for line in open(log_file)]
    >>> [r["epoch"] for r in records], sorted(records[-1]["fields"])
    ([1, 2], ['item_table', 'user_table'])
    >>> 1.0 <= records[-1]["fields"]["user_table"]["ia"] <= 4.0
    True

    References:
        Guo et al., ICML 2024, Section 3 (Definition 3.1, Figure 2) and Section 5.3.
    """

    def __init__(self, tables: list | dict | None = None, field_rows: dict | list | None = None,
                 log_file: str | os.PathLike | None = None, every_n_steps: int | None = None,
                 field_names: list[str] | None = None,
                 scalar_writer: Callable[[str, float, int], None] | None = None) -> None:
        super().__init__()
        if every_n_steps is not None and every_n_steps < 1:
            raise ValueError(f"every_n_steps must be a positive integer, got {every_n_steps!r}")
        self.tables = tables
        self.field_rows = dict(enumerate(field_rows)) if isinstance(field_rows, (list, tuple)) else field_rows
        self.log_file = log_file
        self.every_n_steps = every_n_steps
        self.field_names = field_names
        self.scalar_writer = scalar_writer
        self.records = []
        self._epoch = self._step = self._epoch_start_step = 0

    @property
    def async_safe(self) -> bool:
        """Keras may run the batch hook off the training thread unless it measures the tables every N steps."""
        return self.every_n_steps is None

    def named_tables(self) -> dict:
        """{name: table source} of the tables given, or of the embedding layers found in the model."""
        if isinstance(self.tables, dict):
            return dict(self.tables)
        if self.tables is not None:
            return {_table_name(table, index): table for index, table in enumerate(self.tables)}
        return embedding_layers(self.model)

    def information_abundance(self) -> dict[str, dict]:
        """IA now: {entry name: {"ia": ..., and "sets": [IA per set] for a FieldEmbedding field}}."""
        if self._model is not None:
            # Keras' JAX fit detaches the model's variable values for the whole epoch and reattaches them
            # when a callback reads `self.model` (keras/src/callbacks/callback.py); explicit tables need it too.
            _ = self.model
        entries = {}
        for name, source in self.named_tables().items():
            if isinstance(source, FieldEmbedding):
                entries.update(self._field_embedding_entries(source))
            elif self.field_rows is not None:
                table = _as_matrix(source)
                entries.update({_field_name(field): {"ia": information_abundance(table[start:end])}
                                for field, (start, end) in self.field_rows.items()})
            else:
                entries[name] = {"ia": information_abundance(_as_matrix(source))}
        return entries

    def _field_embedding_entries(self, layer: FieldEmbedding) -> dict[str, dict]:
        names = self.field_names or [f"field_{i}" for i in range(len(layer.field_dims))]
        table = keras.ops.convert_to_numpy(layer.embeddings)
        rows = [layer.field_rows(i) for i in range(len(layer.field_dims))]
        per_field = field_embedding_information_abundance(table, rows, layer.num_sets, layer.embedding_dim)
        return {name: {"ia": entry["all"], "sets": entry["sets"]} for name, entry in zip(names, per_field)}

    def log(self, position: dict, step: int) -> float:
        """Measures, appends the record to the log and writes the scalars; returns the mean IA."""
        fields = self.information_abundance()
        mean_ia = float(np.mean([entry["ia"] for entry in fields.values()]))
        record = {**position, "mean_ia": mean_ia, "fields": fields}
        self.records.append(record)
        if self.log_file is not None:
            with open(self.log_file, "a") as log:
                log.write(json.dumps(record) + "\n")
        if self.scalar_writer is not None:
            self.scalar_writer("information_abundance/mean", mean_ia, step)
            for name, entry in fields.items():
                self.scalar_writer(f"information_abundance/{name}", entry["ia"], step)
        return mean_ia

    def on_train_batch_end(self, batch: int, logs: dict | None = None) -> None:
        previous = self._step
        self._step = max(previous, self._epoch_start_step + batch + 1)  # hooks may run out of order when async
        if self.every_n_steps and self._step // self.every_n_steps > previous // self.every_n_steps:
            self.log({"epoch": self._epoch + 1, "step": self._step}, self._step)

    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
        self._epoch, self._epoch_start_step = epoch, self._step

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        mean_ia = self.log({"epoch": epoch + 1}, epoch + 1)
        if logs is not None:
            logs["ia_mean"] = mean_ia


def embedding_layers(model: keras.Model) -> dict[str, keras.layers.Layer]:
    """The embedding tables of any Keras model, by layer name, in the model's layer order.

    Finds this library's `FieldEmbedding` and `keras.layers.Embedding` with its subclasses (keras-rs
    embedding layers included), at any depth of nesting.

    Args:
        model: keras.Model. Any built Keras model.

    Returns:
        {layer name: layer} of every embedding layer.

    Raises:
        ValueError: the model has no embedding layer.

    Example:

    >>> inputs = keras.Input((2,), dtype="int32")
    >>> outputs = keras.layers.Embedding(10, 3, name="items")(inputs)
    >>> list(embedding_layers(keras.Model(inputs, outputs)))
    ['items']

    References:
        Guo et al., ICML 2024, Section 3 (information abundance of an embedding matrix).
    """
    found = {layer.name: layer for layer in model._flatten_layers(include_self=False)
             if isinstance(layer, (FieldEmbedding, keras.layers.Embedding))}
    if not found:
        raise ValueError("found no embedding layer in the model (FieldEmbedding or keras.layers.Embedding); "
                         "pass tables= explicitly")
    return found


def _as_matrix(source: TableSource) -> np.ndarray:
    """A table's values as a 2-D numpy array (a layer's `embeddings`, a variable's or an array's value)."""
    value = getattr(source, "embeddings", source)
    return np.asarray(keras.ops.convert_to_numpy(value)).reshape(-1, np.shape(value)[-1])


def _table_name(table: TableSource, index: int) -> str:
    """A listed table's name: a variable's path (its name alone repeats: every Embedding's is "embeddings"),
    a layer's name, else its position."""
    if isinstance(table, keras.Variable):
        return table.path
    return getattr(table, "name", None) or f"table_{index}"


def _field_name(field: str | int) -> str:
    return field if isinstance(field, str) else f"field_{field}"


class ThroughputCallback(keras.callbacks.Callback):
    """Measures training examples per second of every epoch, validation excluded.

    An epoch's rate runs from its start to the end of its last train step, as seen by the step's batch-end
    hook (which Keras calls once the step's logs are on the host, on JAX in a worker thread: the callback is
    `async_safe`). With `steps_per_execution` > 1 Keras calls that hook every `steps_per_execution` steps,
    with the index of the last step of the call, which counts them all.

    Args:
        batch_size: int. Examples per training batch.

    Example:

    >>> import numpy as np
    >>> from tf_multiemb import build_model
    >>> model = build_model("fm", [4, 6], embedding_dim=3, hidden_units=(8,))
    >>> model.compile(optimizer="adam", loss="binary_crossentropy")
    >>> ids, labels = np.array([[0, 1], [3, 5]] * 4), np.array([[0.0], [1.0]] * 4)
    >>> callback = ThroughputCallback(batch_size=4)
    >>> _ = model.fit(ids, labels, batch_size=4, epochs=2, verbose=0, callbacks=[callback])
    >>> len(callback.epoch_rates), callback.examples_per_sec() > 0
    (2, True)

    References:
        Guo et al., ICML 2024, Appendix C.2 (batch size 2048 in the paper's protocol).
    """

    async_safe = True

    def __init__(self, batch_size: int) -> None:
        super().__init__()
        self.batch_size = batch_size
        self.epoch_rates = []
        self._started = self._last_end = None
        self._steps = 0

    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
        self._started, self._steps, self._last_end = time.perf_counter(), 0, None

    def on_train_batch_end(self, batch: int, logs: dict | None = None) -> None:
        # Hooks may finish out of order in Keras' worker threads: keep the furthest step and the latest time.
        self._steps, self._last_end = max(self._steps, batch + 1), max(self._last_end or 0.0, time.perf_counter())

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        if self._steps:  # Keras has run every pending batch hook by now
            self.epoch_rates.append(self._steps * self.batch_size / (self._last_end - self._started))

    def examples_per_sec(self) -> float:
        """The best epoch's rate after the first (which includes tracing), else the first's; 0.0 if none.

        Returns:
            Examples per second.
        """
        rates = self.epoch_rates[1:] or self.epoch_rates
        return float(max(rates)) if rates else 0.0
