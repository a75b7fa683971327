"""`PerSet`: any single-set interaction layer becomes a set-specific one (paper Section 5.1)."""

import hashlib

import keras
from keras import ops

from tf_multiemb.types import Shape, Tensor


@keras.saving.register_keras_serializable(package="tf_multiemb")
class PerSet(keras.layers.Layer):
    """Applies its own copy of `layer` to each embedding set, like `TimeDistributed` without weight sharing.

    Multi-embedding needs an interaction I_m with separate weights for every set m. `PerSet` builds M
    copies of `layer` from its config (the copies share no weights), runs copy m on set m and stacks the
    results. The copies are built by a symbolic call, so layers that create their weights lazily on first
    call (keras-rs layers, for instance) are built too. Every integer `seed` in the prototype's config
    (a seeded initializer such as `GlorotUniform(seed=0)`, a seeded `Dropout`) becomes copy m's own seed,
    derived from (seed, m): the copies start apart, and a seeded model still builds the same weights every
    time. Unseeded initializers draw independently per copy, as before. The layer serializes through the
    prototype's config, so a model holding it round-trips through `.keras` (the prototype's class must be
    registered with `keras.saving.register_keras_serializable`).

    Built-in interactions in this library compute all sets in one batched operation instead, which is
    faster; `PerSet` is for interactions you bring.

    Args:
        layer: keras.layers.Layer. Maps one set's embeddings `(batch, N, K)` to `(batch, F)`. It is
            used as a prototype: its own weights are never created or used.
        **kwargs: arguments of `keras.layers.Layer` (`name`, `dtype`, ...).

    Input shape:
        `(batch, M, N, K)`: M embedding sets of N fields, K wide each.

    Output shape:
        `(batch, M, F)`, row m from copy m.

    Raises:
        TypeError: `layer` is not a Keras layer.

    Example:

    >>> import numpy as np
    >>> flat = PerSet(keras.Sequential([keras.layers.Flatten(), keras.layers.Dense(3)]))
    >>> tuple(flat(np.ones((2, 4, 5, 6), "float32")).shape)
    (2, 4, 3)
    >>> len(flat.set_layers), flat.set_layers[0] is flat.set_layers[1]
    (4, False)

    References:
        Guo et al., On the Embedding Collapse When Scaling Up Recommendation Models, ICML 2024,
        Section 5.1 (set-specific interaction modules).
    """

    def __init__(self, layer: keras.layers.Layer, **kwargs) -> None:
        super().__init__(**kwargs)
        if not isinstance(layer, keras.layers.Layer):
            raise TypeError(f"PerSet wraps a keras.layers.Layer, got {type(layer).__name__}")
        self.prototype_config = keras.saving.serialize_keras_object(layer)
        self.set_layers = []

    def build(self, input_shape: Shape) -> None:
        num_sets, set_shape = input_shape[1], (input_shape[0], *input_shape[2:])
        for index in range(num_sets):
            copy = self.new_copy(index)
            copy(keras.KerasTensor(set_shape, dtype=self.compute_dtype))  # builds lazily created weights too
            self.set_layers.append(copy)

    def new_copy(self, index: int) -> keras.layers.Layer:
        """A fresh, unbuilt layer for set `index` from the prototype's config, with the set's own seeds."""
        config = with_set_seeds(self.prototype_config, index)
        config = {**config, "config": {**config["config"], "name": f"{self.name}_set{index}"}}
        return keras.saving.deserialize_keras_object(config)

    def call(self, embeddings: Tensor, training: bool | None = None) -> Tensor:
        outputs = [copy(embeddings[:, index], training=training) for index, copy in enumerate(self.set_layers)]
        return ops.stack(outputs, axis=1)

    def compute_output_shape(self, input_shape: Shape) -> tuple:
        if not self.built:
            self.build(input_shape)
        set_output = self.set_layers[0].compute_output_spec(keras.KerasTensor((input_shape[0], *input_shape[2:])))
        return (input_shape[0], input_shape[1], *set_output.shape[1:])

    def get_config(self) -> dict:
        return {**super().get_config(), "layer": self.prototype_config}

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        return cls(keras.saving.deserialize_keras_object(config.pop("layer")), **config)


def with_set_seeds(config: object, index: int) -> object:
    """A serialized Keras config with every integer `seed` replaced by `set_seed(seed, index)`."""
    if isinstance(config, dict):
        return {key: set_seed(value, index) if key == "seed" and type(value) is int  # not None, not a bool
                else with_set_seeds(value, index) for key, value in config.items()}
    if isinstance(config, list):
        return [with_set_seeds(item, index) for item in config]
    return config


def set_seed(seed: int, index: int) -> int:
    """Set `index`'s seed, in [0, 2^31): the first 31 bits of SHA-256 of "seed/index" (stable across runs)."""
    digest = hashlib.sha256(f"{seed}/{index}".encode()).digest()
    return int.from_bytes(digest[:4], "little") & 0x7FFFFFFF
