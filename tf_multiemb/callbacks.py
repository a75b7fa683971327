"""Keras callbacks: information abundance after every epoch (paper Section 3) and training throughput."""

import json
import os
import time
from collections.abc import Callable

import keras
import numpy as np

from tf_multiemb.collapse import field_embedding_information_abundance


class InformationAbundanceCallback(keras.callbacks.Callback):
    """Logs the information abundance of every field's embedding after each epoch.

    Appends one JSON object per epoch to `log_path` ({"epoch", "mean_ia", "fields": {name:
    {"ia": IA of all sets together, "sets": [IA per set]}}}) and adds `ia_mean` to the epoch logs
    (so a `keras.callbacks.TensorBoard` placed after this callback draws it). The model must be a
    `MultiEmbeddingModel` (it reads `model.field_embedding`).

    Args:
        log_path: str or os.PathLike. The JSON-lines file to append to.
        field_names: list of str or None. One name per field; `None` uses "field_0", ...
            Defaults to `None`.
        scalar_writer: callable or None. Called as scalar_writer(tag, value, epoch) for the mean
            ("information_abundance/mean") and every field's IA
            ("information_abundance/{name}"). Defaults to `None`.

    Example:

    >>> import json, os, tempfile
    >>> import numpy as np
    >>> from tf_multiemb import build_model
    >>> model = build_model("dnn", [4, 6], embedding="multi", scale=2, embedding_dim=3, hidden_units=(8,))
    >>> model.compile(optimizer="adam", loss="binary_crossentropy")
    >>> log_path = os.path.join(tempfile.mkdtemp(), "ia.jsonl")
    >>> callback = InformationAbundanceCallback(log_path, field_names=["user", "item"])
    >>> ids, labels = np.array([[0, 1], [3, 5]] * 4), np.array([[0.0], [1.0]] * 4)
    >>> history = model.fit(ids, labels, epochs=2, verbose=0, callbacks=[callback])
    >>> len(history.history["ia_mean"])
    2
    >>> record = json.loads(open(log_path).readlines()[-1])
    >>> record["epoch"], sorted(record["fields"]), len(record["fields"]["user"]["sets"])
    (2, ['item', 'user'], 2)

    References:
        Guo et al., ICML 2024, Section 3 (Definition 3.1, Figure 2) and Section 5.3.
    """

    def __init__(self, log_path: str | os.PathLike, field_names: list[str] | None = None,
                 scalar_writer: Callable[[str, float, int], None] | None = None) -> None:
        super().__init__()
        self.log_path = log_path
        self.field_names = field_names
        self.scalar_writer = scalar_writer

    def information_abundance(self) -> dict[str, dict]:
        """IA of every field now: {name: {"ia": IA of all sets together, "sets": [IA per set]}}."""
        layer = self.model.field_embedding
        names = self.field_names or [f"field_{i}" for i in range(len(layer.field_dims))]
        table = keras.ops.convert_to_numpy(layer.embeddings)
        rows = [layer.field_rows(i) for i in range(len(layer.field_dims))]
        per_field = field_embedding_information_abundance(table, rows, layer.num_sets, layer.embedding_dim)
        return {name: {"ia": entry["all"], "sets": entry["sets"]} for name, entry in zip(names, per_field)}

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
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
    """Measures training examples per second of every epoch, validation excluded.

    An epoch's rate is taken when its validation pass begins, so `fit` needs validation data
    for rates to be recorded.

    Args:
        batch_size: int. Examples per training batch.

    Example:

    >>> import numpy as np
    >>> from tf_multiemb import build_model
    >>> model = build_model("fm", [4, 6], embedding_dim=3, hidden_units=(8,))
    >>> model.compile(optimizer="adam", loss="binary_crossentropy")
    >>> ids, labels = np.array([[0, 1], [3, 5]] * 4), np.array([[0.0], [1.0]] * 4)
    >>> callback = ThroughputCallback(batch_size=4)
    >>> _ = model.fit(ids, labels, batch_size=4, epochs=2, validation_data=(ids, labels), verbose=0,
    ...               callbacks=[callback])
    >>> len(callback.epoch_rates), callback.examples_per_sec() > 0
    (2, True)

    References:
        Guo et al., ICML 2024, Appendix C.2 (batch size 2048 in the paper's protocol).
    """

    def __init__(self, batch_size: int) -> None:
        super().__init__()
        self.batch_size = batch_size
        self.epoch_rates = []
        self._started = None
        self._batches = 0

    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
        self._started = time.perf_counter()
        self._batches = 0

    def on_train_batch_end(self, batch: int, logs: dict | None = None) -> None:
        self._batches += 1

    def on_test_begin(self, logs: dict | None = None) -> None:
        if self._started is not None:  # the validation pass ends this epoch's training time
            self.epoch_rates.append(self._batches * self.batch_size / (time.perf_counter() - self._started))
            self._started = None

    def examples_per_sec(self) -> float:
        """The best epoch's rate after the first (which includes tracing), else the first's; 0.0 if none.

        Returns:
            Examples per second.
        """
        rates = self.epoch_rates[1:] or self.epoch_rates
        return float(max(rates)) if rates else 0.0
