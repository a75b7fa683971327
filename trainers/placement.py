"""Placement: what a model is built and trained under, when it is not a tf.distribute strategy (the JAX runtime)."""

import contextlib


class Placement:
    """What the model is built and trained under: `scope()` for building, and the replica count."""

    def __init__(self, num_replicas: int, scope=contextlib.nullcontext):
        self.num_replicas_in_sync = num_replicas
        self.scope = scope
