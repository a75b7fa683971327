"""Type aliases of the public signatures.

`Tensor` is any value `keras.ops` accepts as an array: a numpy array, a `tf.Tensor`, a
`jax.Array`, a `keras.KerasTensor` or a `keras.Variable`. It is left as `Any` so that no backend
has to be imported to annotate a signature.
"""

from collections.abc import Sequence
from typing import Any, TypeAlias

import keras

Tensor: TypeAlias = Any
Shape: TypeAlias = Sequence[int | None]
InitializerLike: TypeAlias = str | keras.initializers.Initializer
