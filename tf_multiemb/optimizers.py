"""Adam with coupled L2 weight decay, as PyTorch's `Adam(weight_decay=...)` used by the paper.

The paper's protocol (Appendix C.2) trains with Adam, lr 1e-3 and weight decay 1e-6 on all
parameters, where the decay is added to the gradient (g + wd * w) before the adaptive moments.
Keras' own `weight_decay` argument is the decoupled AdamW form, which behaves differently on
rarely-updated embedding rows, so this class adds the coupled form.

`sparse_updates=True` is the "lazy" Adam of large-vocabulary recommenders: a gradient that arrives
row-sparse (the TensorFlow backend passes the gradient of `keras.ops.take` on the embedding table as
`tf.IndexedSlices`) updates only the rows the batch touched, and only their moments, so a step costs
O(rows touched) instead of O(table). It differs from the paper's dense Adam on untouched rows only:
dense Adam keeps moving them with their decaying first moment (m <- beta_1 m, w <- w - alpha m / ...)
and shrinks them by the L2 term; lazy Adam leaves them, and their moments, exactly as they are until
the row is next looked up. Rows touched in a step get the same update as dense Adam would give them
when their moments are current (always true on the first step). Dense gradients are unaffected.
"""

import keras
from keras import ops

from tf_multiemb.types import Tensor


def _is_row_sparse(gradient: Tensor) -> bool:
    """True for a gradient that lists rows (`tf.IndexedSlices`), detected without importing TensorFlow."""
    return all(hasattr(gradient, name) for name in ("indices", "values", "dense_shape"))


def _sum_duplicate_rows(indices: Tensor, values: Tensor) -> tuple[Tensor, Tensor]:
    """(unique row ids, the summed gradient of each): duplicate lookups of a row add up, as in the dense gradient."""
    rows, positions = ops.unique(indices, sorted=False, return_inverse=True)
    return rows, ops.segment_sum(values, positions, num_segments=ops.shape(rows)[0])


def _gather_rows(variable: keras.Variable | Tensor, rows: Tensor) -> Tensor:
    """variable[rows], gathered from the backend variable: on TensorFlow that is a sparse read
    (ResourceGather). Once rows have been scattered into a TF resource variable, a dense read
    copies the whole table, which would make the lazy step O(table) again."""
    return ops.take(variable.value if isinstance(variable, keras.Variable) else variable, rows, axis=0)


@keras.saving.register_keras_serializable(package="tf_multiemb")
class AdamL2(keras.optimizers.Adam):
    """Adam with coupled L2 weight decay: the update uses the gradient g + l2 * w.

    The form of PyTorch's `Adam(weight_decay=...)`, which the paper trains with; the decay passes
    through Adam's moments, unlike Keras' decoupled `weight_decay` (AdamW). With
    `sparse_updates` a row-sparse gradient updates only the rows it lists (lazy Adam, see the
    module docstring).

    Args:
        l2: float. Coupled L2 weight (the paper: 1e-6). Defaults to 0.0.
        sparse_updates: bool. Update only the rows of a row-sparse gradient and their moments.
            `False`, the default, is the paper's dense Adam, which densifies the embedding
            gradient and updates every row.
        **kwargs: Arguments of `keras.optimizers.Adam` (e.g. `learning_rate`); `amsgrad` is not
            supported with sparse updates.

    Raises:
        ValueError: if `sparse_updates` and `amsgrad` are both set.

    Example:

    >>> import keras
    >>> import numpy as np
    >>> optimizer = AdamL2(l2=0.5, learning_rate=0.1)
    >>> weight = keras.Variable(np.array([1.0, -2.0], dtype="float32"))
    >>> _ = optimizer.apply([np.zeros(2, dtype="float32")], [weight])  # no loss gradient, only l2 * w
    >>> np.round(keras.ops.convert_to_numpy(weight), 4)  # Adam's first step moves by lr * sign(g)
    array([ 0.9, -1.9], dtype=float32)

    References:
        - Guo et al., ICML 2024, Appendix C.2 (Adam, learning rate 1e-3, weight decay 1e-6).
        - Kingma & Ba, "Adam", ICLR 2015, Algorithm 1.
    """

    def __init__(self, l2: float = 0.0, sparse_updates: bool = False, **kwargs) -> None:
        super().__init__(**kwargs)
        self.l2 = float(l2)
        self.sparse_updates = bool(sparse_updates)
        if self.sparse_updates and self.amsgrad:
            raise ValueError("sparse_updates does not support amsgrad")

    def update_step(self, gradient: Tensor, variable: keras.Variable, learning_rate: Tensor) -> None:
        if self.sparse_updates and _is_row_sparse(gradient):
            self._sparse_update_step(gradient, variable, learning_rate)
            return
        if self.l2:
            gradient = ops.add(ops.convert_to_tensor(gradient),
                               ops.multiply(ops.cast(self.l2, variable.dtype), variable))
        super().update_step(gradient, variable, learning_rate)

    def _sparse_update_step(self, gradient: Tensor, variable: keras.Variable, learning_rate: Tensor) -> None:
        """Adam (Kingma & Ba, Algorithm 1) on the touched rows only; writes back row slices."""
        dtype = variable.dtype
        rows, row_gradient = _sum_duplicate_rows(gradient.indices, ops.cast(gradient.values, dtype))
        step = ops.cast(self.iterations + 1, dtype)
        beta_1, beta_2 = ops.cast(self.beta_1, dtype), ops.cast(self.beta_2, dtype)
        alpha = (ops.cast(learning_rate, dtype) * ops.sqrt(1 - ops.power(beta_2, step))
                 / (1 - ops.power(beta_1, step)))
        index = self._get_variable_index(variable)
        momentum, velocity = self._momentums[index], self._velocities[index]

        weights = _gather_rows(variable, rows)
        if self.l2:
            row_gradient = row_gradient + ops.cast(self.l2, dtype) * weights
        m = _gather_rows(momentum, rows)
        m = m + (row_gradient - m) * (1 - beta_1)
        v = _gather_rows(velocity, rows)
        v = v + (ops.square(row_gradient) - v) * (1 - beta_2)
        weights = weights - alpha * m / (ops.sqrt(v) + self.epsilon)

        def row_slices(row_values):  # the gradient's own class (tf.IndexedSlices) scatters into the variable
            return type(gradient)(row_values, rows, gradient.dense_shape)

        self.assign(momentum, row_slices(m))
        self.assign(velocity, row_slices(v))
        self.assign(variable, row_slices(weights))

    def get_config(self) -> dict:
        config = super().get_config()
        config.update(l2=self.l2, sparse_updates=self.sparse_updates)
        return config
