"""MLP blocks as in the authors' released code (Appendix C.2; docs/design.md): Dense -> BatchNorm -> ReLU -> Dropout."""

import keras
from keras import ops

from tf_multiemb.layers.set_dense import SetDense
from tf_multiemb.types import Shape, Tensor


@keras.saving.register_keras_serializable(package="tf_multiemb")
class MLPBlock(keras.layers.Layer):
    """One hidden layer Dense -> BatchNorm -> ReLU -> Dropout, per embedding set.

    Every set has its own Dense and its own BatchNorm statistics, so with M > 1 this is the
    paper's set-specific non-linear projection P_m, and with M = 1 an ordinary MLP layer.

    Args:
        units: int. Output width.
        dropout: float. Dropout rate after the ReLU. Defaults to 0.2.
        synchronized_batch_norm: bool. Batch statistics over all replicas (multi-device
            training). Defaults to `False`.
        **kwargs: Arguments of `keras.layers.Layer`.

    Input shape:
        (batch, M, d_in), or (batch, d_in), which is treated as one set.

    Output shape:
        (batch, M, units), or (batch, units) for a rank-2 input.

    Example:

    >>> import numpy as np
    >>> block = MLPBlock(units=8, dropout=0.0)
    >>> outputs = block(np.ones((4, 3, 5), dtype="float32"))
    >>> tuple(outputs.shape), bool(np.all(np.asarray(outputs) >= 0))  # after a ReLU
    ((4, 3, 8), True)

    References:
        Guo et al., ICML 2024, Section 5.1 (non-linear projection) and Appendix C.2 (MLP).
    """

    def __init__(self, units: int, dropout: float = 0.2, synchronized_batch_norm: bool = False, **kwargs) -> None:
        super().__init__(**kwargs)
        self.units = int(units)
        self.dropout = float(dropout)
        self.synchronized_batch_norm = bool(synchronized_batch_norm)
        self.dense = SetDense(self.units, name="dense")
        self.batch_norm = keras.layers.BatchNormalization(synchronized=self.synchronized_batch_norm, name="batch_norm")
        self.dropout_layer = keras.layers.Dropout(self.dropout)

    def build(self, input_shape: Shape) -> None:
        set_shape = tuple(input_shape) if len(input_shape) == 3 else (input_shape[0], 1, input_shape[-1])
        self.dense.build(set_shape)
        self.batch_norm.build((set_shape[0], set_shape[1] * self.units))

    def call(self, inputs: Tensor, training: bool | None = None) -> Tensor:
        squeeze = len(inputs.shape) == 2
        x = ops.expand_dims(inputs, 1) if squeeze else inputs
        num_sets = x.shape[1]
        x = self.dense(x)
        # Normalise each (set, unit) column independently: flatten sets into the feature axis.
        x = ops.reshape(self.batch_norm(ops.reshape(x, (-1, num_sets * self.units)), training=training),
                        (-1, num_sets, self.units))
        x = self.dropout_layer(ops.relu(x), training=training)
        return ops.squeeze(x, 1) if squeeze else x

    def compute_output_shape(self, input_shape: Shape) -> tuple:
        return (*input_shape[:-1], self.units)

    def get_config(self) -> dict:
        config = super().get_config()
        config.update(units=self.units, dropout=self.dropout, synchronized_batch_norm=self.synchronized_batch_norm)
        return config
