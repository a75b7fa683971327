"""FinalMLP interaction: per-stream feature-selection gates (Mao et al., AAAI 2023, Eq. 2)."""

import keras
from keras import ops

from tf_multiemb.layers.bilinear_fusion import MultiHeadBilinearFusion
from tf_multiemb.types import Shape, Tensor


@keras.saving.register_keras_serializable(package="tf_multiemb")
class FeatureSelectionGate(keras.layers.Layer):
    """FinalMLP's interaction: two feature-selection-gated views of the flat embeddings, per set.

    Stream s sees x_s = 2 * sigmoid(MLP_s(c_s)) * [e_1, ..., e_N] (Eq. 2); the context c_s is a
    learnable K-vector (FinalMLP's default when no context fields are named), so each gate is a
    learned per-(set, stream) reweighting of the N*K inputs. With `feature_selection=False` both
    streams see the plain embeddings. The model treats the output as `num_streams = 2` streams:
    each (set, stream) gets its own projection, which is the stream MLP's first layer; the
    remaining stream layers form the head, and `make_fusion` gives FinalMLP's bilinear fusion
    (Eq. 3-4) as the output layer. So the sets are averaged per stream (paper Appendix C.2).

    Args:
        feature_selection: bool. Gate the two views; `False` passes the plain embeddings to
            both streams. Defaults to `True`.
        gate_units: int. Hidden width of each gate MLP. Defaults to 64.
        fusion_heads: int. Heads of the bilinear fusion built by `make_fusion`. Defaults to 2.
        **kwargs: Arguments of `keras.layers.Layer`.

    Input shape:
        (batch, M, N, K).

    Output shape:
        (batch, M, 2 * N*K): stream 1's view, then stream 2's.

    Example:

    >>> import numpy as np
    >>> from keras import ops
    >>> layer = FeatureSelectionGate(gate_units=4)
    >>> tuple(layer(np.ones((2, 3, 4, 5), dtype="float32")).shape)
    (2, 3, 40)
    >>> gates = ops.convert_to_numpy(layer.gates())  # 2 * sigmoid(.), one per (set, stream, input)
    >>> gates.shape, bool(np.all((gates > 0) & (gates < 2)))
    ((3, 2, 20), True)

    References:
        - Guo et al., ICML 2024, Appendix C.2 (FinalMLP: two-stream outputs averaged per stream).
        - Mao et al., "FinalMLP", AAAI 2023, Eq. (2).
    """

    num_streams = 2

    def __init__(self, feature_selection: bool = True, gate_units: int = 64, fusion_heads: int = 2, **kwargs) -> None:
        super().__init__(**kwargs)
        self.feature_selection = bool(feature_selection)
        self.gate_units = int(gate_units)
        self.fusion_heads = int(fusion_heads)

    def build(self, input_shape: Shape) -> None:
        num_sets, num_fields, dim = input_shape[1], input_shape[2], input_shape[3]
        if not self.feature_selection:
            return
        streams = (num_sets, self.num_streams)
        self.context = self.add_weight(name="context", shape=(*streams, dim),
                                       initializer=keras.initializers.RandomNormal(stddev=0.1))
        self.hidden_kernel = self.add_weight(name="hidden_kernel", shape=(*streams, dim, self.gate_units),
                                             initializer="glorot_uniform")
        self.hidden_bias = self.add_weight(name="hidden_bias", shape=(*streams, self.gate_units), initializer="zeros")
        self.gate_kernel = self.add_weight(name="gate_kernel", shape=(*streams, self.gate_units, num_fields * dim),
                                           initializer="glorot_uniform")
        self.gate_bias = self.add_weight(name="gate_bias", shape=(*streams, num_fields * dim), initializer="zeros")

    def gates(self) -> Tensor:
        """The (M, 2, N*K) gate values 2 * sigmoid(MLP(c))."""
        hidden = ops.relu(ops.add(ops.einsum("msk,msku->msu", self.context, self.hidden_kernel), self.hidden_bias))
        return ops.multiply(2.0, ops.sigmoid(ops.add(ops.einsum("msu,msuo->mso", hidden, self.gate_kernel),
                                                     self.gate_bias)))

    def call(self, embeddings: Tensor, training: bool | None = None) -> Tensor:
        num_sets, width = embeddings.shape[1], embeddings.shape[2] * embeddings.shape[3]
        flat = ops.expand_dims(ops.reshape(embeddings, (-1, num_sets, width)), 2)  # (B, M, 1, N*K)
        views = ops.multiply(flat, self.gates()) if self.feature_selection else ops.concatenate([flat, flat], axis=2)
        return ops.reshape(views, (-1, num_sets, self.num_streams * width))

    def compute_output_shape(self, input_shape: Shape) -> tuple:
        return (input_shape[0], input_shape[1], self.num_streams * input_shape[2] * input_shape[3])

    def make_fusion(self, name: str | None = None) -> MultiHeadBilinearFusion:
        """FinalMLP's output layer for the two stream representations."""
        return MultiHeadBilinearFusion(num_heads=self.fusion_heads, name=name)

    def get_config(self) -> dict:
        config = super().get_config()
        config.update(feature_selection=self.feature_selection, gate_units=self.gate_units,
                      fusion_heads=self.fusion_heads)
        return config
