"""FFM interaction: field-aware sub-embeddings (Juan et al., RecSys 2016, Eq. 3; paper Appendix H)."""

import keras
import numpy as np
from keras import ops

from tf_multiemb.layers.factorization_machine import with_first_order
from tf_multiemb.types import Shape, Tensor


@keras.saving.register_keras_serializable(package="tf_multiemb")
class FieldAwareInteraction(keras.layers.Layer):
    """FFM's field-aware pairwise interaction as a k-vector, per set.

    v = sum_{i<j} e_{i->j} * e_{j->i}. As in the paper's Appendix H, field i's embedding of
    width K = (N-1)*k is split into N-1 sub-embeddings e_{i->j} of width k, one per other field j
    (slot j, or j-1 when j > i). So FFM uses the ordinary `FieldEmbedding` with a wider row and
    owns no table of its own; the registry sets K = (N-1) * k0 (`embedding_width_factor`). FFM's
    score is sum_k v_k; the per-set projection generalises that sum. With `first_order` (default)
    the output also holds FM's linear terms, as in `FactorizationMachineInteraction`. No weights.

    Args:
        first_order: bool. Append FM's first-order terms. Defaults to `True`.
        **kwargs: Arguments of `keras.layers.Layer`.

    Input shape:
        (batch, M, N, (N-1)*k), N >= 2.

    Output shape:
        (batch, M, k + (N-1)*k + N) with `first_order`, else (batch, M, k).

    Example:

    >>> import numpy as np
    >>> from keras import ops
    >>> embeddings = np.array([[[[1, 2, 3, 4], [5, 6, 7, 8], [9, 10, 11, 12]]]], dtype="float32")
    >>> layer = FieldAwareInteraction(first_order=False)  # N = 3 fields, k = 2
    >>> ops.convert_to_numpy(layer(embeddings))  # [1, 2]*[5, 6] + [3, 4]*[9, 10] + [7, 8]*[11, 12]
    array([[[109., 148.]]], dtype=float32)

    References:
        - Guo et al., ICML 2024, Appendix H.
        - Juan et al., "Field-aware Factorization Machines", RecSys 2016, Eq. (3).
    """

    def __init__(self, first_order: bool = True, **kwargs) -> None:
        super().__init__(**kwargs)
        self.first_order = bool(first_order)

    @staticmethod
    def embedding_width_factor(num_fields: int) -> int:
        """How many sub-embeddings one field's embedding row holds."""
        return num_fields - 1

    def build(self, input_shape: Shape) -> None:
        num_fields, width = input_shape[2], input_shape[3]
        if num_fields < 2 or width % (num_fields - 1):
            raise ValueError(f"FFM needs an embedding width divisible by N-1 = {num_fields - 1}, got {width}")
        first, second = np.triu_indices(num_fields, k=1)
        # Flat index into (N, N-1) sub-embedding slots of e_{i->j} and of e_{j->i}, for every pair i < j.
        self._forward_slots = (first * (num_fields - 1) + second - 1).tolist()
        self._backward_slots = (second * (num_fields - 1) + first).tolist()

    def call(self, embeddings: Tensor, training: bool | None = None) -> Tensor:
        num_sets, num_fields, width = embeddings.shape[1], embeddings.shape[2], embeddings.shape[3]
        sub_width = width // (num_fields - 1)
        slots = ops.reshape(embeddings, (-1, num_sets, num_fields * (num_fields - 1), sub_width))
        forward = ops.take(slots, self._forward_slots, axis=2)
        backward = ops.take(slots, self._backward_slots, axis=2)
        pairwise = ops.sum(ops.multiply(forward, backward), axis=2)
        return with_first_order(pairwise, embeddings) if self.first_order else pairwise

    def compute_output_shape(self, input_shape: Shape) -> tuple:
        pairwise_width = input_shape[3] // (input_shape[2] - 1)
        extra = input_shape[3] + input_shape[2] if self.first_order else 0
        return (input_shape[0], input_shape[1], pairwise_width + extra)

    def get_config(self) -> dict:
        config = super().get_config()
        config["first_order"] = self.first_order
        return config
