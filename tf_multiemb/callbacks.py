"""Information abundance after every epoch (paper Section 3), as a Keras callback."""

import json
import time

import keras
import numpy as np

from tf_multiemb.collapse import field_embedding_information_abundance


class InformationAbundanceCallback(keras.callbacks.Callback):
    """Computes IA of every field's embedding after each epoch.

    Appends one JSON object per epoch to `log_path` ({"epoch", "mean_ia", "fields": {name:
    {"ia": IA of all sets together, "sets": [IA per set]}}}) and adds `ia_mean` to the epoch logs
    (so a `keras.callbacks.TensorBoard` placed after this callback draws it). `scalar_writer`, if
    given, is called as scalar_writer(tag, value, epoch) for the mean and every field's IA.
    """

    def __init__(self, log_path, field_names=None, scalar_writer=None):
        super().__init__()
        self.log_path = log_path
        self.field_names = field_names
        self.scalar_writer = scalar_writer

    def information_abundance(self):
        layer = self.model.field_embedding
        names = self.field_names or [f"field_{i}" for i in range(len(layer.field_dims))]
        table = keras.ops.convert_to_numpy(layer.embeddings)
        rows = [layer.field_rows(i) for i in range(len(layer.field_dims))]
        per_field = field_embedding_information_abundance(table, rows, layer.num_sets, layer.embedding_dim)
        return {name: {"ia": entry["all"], "sets": entry["sets"]} for name, entry in zip(names, per_field)}

    def on_epoch_end(self, epoch, logs=None):
        fields = self.information_abundance()
        mean_ia = float(np.mean([entry["ia"] for entry in fields.values()]))
        record = {"epoch": epoch + 1, "mean_ia": mean_ia, "fields": fields}
        with open(self.log_path, "a") as log:
            log.write(json.dumps(record) + "\n")
        if logs is not None:
            logs["ia_mean"] = mean_ia
        if self.scalar_writer is not None:
            self.scalar_writer("information_abundance/mean", mean_ia, epoch + 1)
            for name, entry in fields.items():
                self.scalar_writer(f"information_abundance/{name}", entry["ia"], epoch + 1)


class ThroughputCallback(keras.callbacks.Callback):
    """Training examples per second of every epoch, validation excluded."""

    def __init__(self, batch_size):
        super().__init__()
        self.batch_size = batch_size
        self.epoch_rates = []
        self._started = None
        self._batches = 0

    def on_epoch_begin(self, epoch, logs=None):
        self._started = time.perf_counter()
        self._batches = 0

    def on_train_batch_end(self, batch, logs=None):
        self._batches += 1

    def on_test_begin(self, logs=None):
        if self._started is not None:  # the validation pass ends this epoch's training time
            self.epoch_rates.append(self._batches * self.batch_size / (time.perf_counter() - self._started))
            self._started = None

    def examples_per_sec(self):
        """The best epoch's rate after the first (which includes tracing), else the first's."""
        rates = self.epoch_rates[1:] or self.epoch_rates
        return float(max(rates)) if rates else 0.0
