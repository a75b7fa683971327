"""The keras.distribution a JAX `trainers.fit` run trains under: DataParallel, or row-sharded embedding tables.

Row sharding (`--shard_embeddings`) is `keras.distribution.ModelParallel` over a 1-D mesh of every device, whose
one axis splits both the batch and the embedding table's rows: each device holds 1/N of the table and of Adam's
two moments (optimizer slots take their variable's layout, keras/src/optimizers/base_optimizer.py
`add_variable_from_reference`), and every other variable is replicated. A (batch, model) mesh would copy the
table along the batch axis, and Keras refuses two mesh axes on one dimension. The table's rows are padded to a
multiple of N (`FieldEmbedding(row_multiple=N)`), since a sharded dimension must split evenly. Each process
feeds its own block of every global batch (`datasets.numpy_reader.NumpyReader`), so Keras must not shard the
input again (`auto_shard_dataset=False`).
"""

import keras

SHARD_AXIS = "devices"
TABLE_PATHS = r".*field_embedding/embeddings"  # FieldEmbedding's table; matched with re.fullmatch by LayoutMap


def data_parallel_or_sharded(devices: list, shard_embeddings: bool) -> "keras.distribution.Distribution | None":
    """The distribution of a run over `devices`.

    Args:
        devices: list. All the run's devices (`jax.devices()`, every process's).
        shard_embeddings: bool. Split the embedding tables' rows between the devices.

    Returns:
        `ModelParallel` with the tables' rows and the batch split on one mesh axis when `shard_embeddings`;
        else `DataParallel` over several devices, `None` over one.

    Example:

    >>> import jax
    >>> distribution = data_parallel_or_sharded(jax.devices(), shard_embeddings=True)
    >>> distribution.batch_dim_name, distribution.device_mesh.shape == (len(jax.devices()),)
    ('devices', True)
    """
    if shard_embeddings:
        mesh = keras.distribution.DeviceMesh((len(devices),), (SHARD_AXIS,), devices)
        layout_map = keras.distribution.LayoutMap(mesh)
        layout_map[TABLE_PATHS] = (SHARD_AXIS, None)
        return keras.distribution.ModelParallel(layout_map=layout_map, batch_dim_name=SHARD_AXIS,
                                                auto_shard_dataset=False)
    if len(devices) > 1:
        return keras.distribution.DataParallel(devices=devices, auto_shard_dataset=False)
    return None


def table_and_moments(table: "keras.Variable", optimizer: "keras.optimizers.Optimizer") -> list:
    """The embedding table and the optimizer's slots for it (Adam's two moments): what row sharding splits.

    Args:
        table: keras.Variable. A `FieldEmbedding`'s `embeddings`.
        optimizer: keras.optimizers.Optimizer. A built optimizer; it names a slot "<table path>_<slot name>"
            (keras/src/optimizers/base_optimizer.py `add_variable_from_reference`).

    Returns:
        [table, *its slots].
    """
    prefix = table.path.replace("/", "_") + "_"
    return [table, *(slot for slot in optimizer.variables if slot.name.startswith(prefix))]
