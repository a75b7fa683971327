"""Information abundance after every epoch (paper Section 3), as a Keras callback."""

import json

import keras
import numpy as np

from tf_multiemb.collapse import field_embedding_information_abundance


class InformationAbundanceCallback(keras.callbacks.Callback):
    """Computes IA of every field's embedding after each epoch.

    Appends one JSON object per epoch to `log_path` ({"epoch", "mean_ia", "fields": {name:
    {"ia": IA of all sets together, "sets": [IA per set]}}}), and adds `ia_mean` and
    `ia/<field>` to the epoch logs so a `keras.callbacks.TensorBoard` placed after this callback
    draws them as scalars.
    """

    def __init__(self, log_path, field_names=None):
        super().__init__()
        self.log_path = log_path
        self.field_names = field_names

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
            logs.update({f"ia/{name}": entry["ia"] for name, entry in fields.items()})
