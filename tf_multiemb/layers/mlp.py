"""MLP blocks as in the paper's code (Appendix C.2): Dense -> BatchNorm -> ReLU -> Dropout."""

import keras
from keras import ops

from tf_multiemb.layers.set_dense import SetDense


@keras.saving.register_keras_serializable(package="tf_multiemb")
class MLPBlock(keras.layers.Layer):
    """One hidden layer Dense -> BatchNorm -> ReLU -> Dropout, per embedding set.

    Input (batch, M, d_in) -> (batch, M, units). Every set has its own Dense and its own
    BatchNorm statistics, so with M > 1 this is the paper's set-specific non-linear
    projection P_m (Section 5.1), and with M = 1 an ordinary MLP layer. Inputs of rank 2
    (batch, d_in) are treated as one set and returned as (batch, units).
    """

    def __init__(self, units, dropout=0.2, synchronized_batch_norm=False, **kwargs):
        super().__init__(**kwargs)
        self.units = int(units)
        self.dropout = float(dropout)
        self.synchronized_batch_norm = bool(synchronized_batch_norm)
        self.dense = SetDense(self.units, name="dense")
        self.batch_norm = keras.layers.BatchNormalization(synchronized=self.synchronized_batch_norm, name="batch_norm")
        self.dropout_layer = keras.layers.Dropout(self.dropout)

    def build(self, input_shape):
        set_shape = tuple(input_shape) if len(input_shape) == 3 else (input_shape[0], 1, input_shape[-1])
        self.dense.build(set_shape)
        self.batch_norm.build((set_shape[0], set_shape[1] * self.units))

    def call(self, inputs, training=None):
        squeeze = len(inputs.shape) == 2
        x = ops.expand_dims(inputs, 1) if squeeze else inputs
        num_sets = x.shape[1]
        x = self.dense(x)
        # Normalise each (set, unit) column independently: flatten sets into the feature axis.
        x = ops.reshape(self.batch_norm(ops.reshape(x, (-1, num_sets * self.units)), training=training),
                        (-1, num_sets, self.units))
        x = self.dropout_layer(ops.relu(x), training=training)
        return ops.squeeze(x, 1) if squeeze else x

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-1], self.units)

    def get_config(self):
        config = super().get_config()
        config.update(units=self.units, dropout=self.dropout, synchronized_batch_norm=self.synchronized_batch_norm)
        return config
