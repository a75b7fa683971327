"""Speed-motivated formulations equal the straightforward ones (outputs and gradients)."""

import keras
import numpy as np
import tensorflow as tf
from keras import ops

import tf_multiemb
from tf_multiemb.layers import FieldEmbedding

FIELD_DIMS = [5, 7, 3, 4]
NUM_SETS, K, HIDDEN = 3, 2, 6


def random_ids(batch, seed=0):
    rng = np.random.default_rng(seed)
    return np.stack([rng.integers(0, d, size=batch) for d in FIELD_DIMS], axis=1).astype("int32")


def per_set_dcnv2(model, ids):
    """ME DCNv2 (inference mode) as M separate sub-networks, one loop iteration per set, then mean and head."""
    offsets = np.concatenate([[0], np.cumsum(FIELD_DIMS)[:-1]]).astype("int32")
    cross, projection, (head,) = model.interaction, model.projection, model.head
    set_outputs = []
    for m in range(NUM_SETS):
        table = model.field_embedding.embeddings[:, m * K:(m + 1) * K]
        x0 = ops.reshape(ops.take(table, ids + offsets, axis=0), (-1, len(FIELD_DIMS) * K))
        x = x0
        for kernel, bias in zip(cross.kernels, cross.biases):
            x = x0 * (ops.matmul(x, kernel[m]) + bias[m]) + x
        columns = slice(m * HIDDEN, (m + 1) * HIDDEN)
        set_outputs.append(batch_norm_relu(ops.matmul(x, projection.dense.kernel[m]) + projection.dense.bias[m],
                                           projection.batch_norm, columns))
    hidden = ops.mean(ops.stack(set_outputs), axis=0)
    hidden = batch_norm_relu(ops.matmul(hidden, head.dense.kernel[0]) + head.dense.bias[0], head.batch_norm,
                             slice(0, HIDDEN))
    return ops.sigmoid(model.output_layer(hidden))


def batch_norm_relu(x, layer, columns):
    """Inference-mode BatchNorm on the given columns of its statistics, then ReLU."""
    scale = layer.gamma[columns] / ops.sqrt(layer.moving_variance[columns] + layer.epsilon)
    return ops.relu((x - layer.moving_mean[columns]) * scale + layer.beta[columns])


def test_set_batched_multi_embedding_equals_per_set_sub_networks():
    """The one batched computation over the M axis = M independent networks averaged (paper Section 5.1)."""
    keras.utils.set_random_seed(0)
    model = tf_multiemb.build_model("dcnv2", FIELD_DIMS, embedding="multi", scale=NUM_SETS,
                                    embedding_dim=K, hidden_units=(HIDDEN, HIDDEN))
    ids = random_ids(16)
    model(ids)
    rng = np.random.default_rng(1)
    for block in (model.projection, *model.head):  # non-trivial BatchNorm statistics
        for variable in (block.batch_norm.moving_mean, block.batch_norm.moving_variance):
            variable.assign(rng.uniform(0.5, 1.5, variable.shape).astype("float32"))
    labels = rng.integers(0, 2, (16, 1)).astype("float32")
    results = []
    for forward in (lambda: model(ids, training=False), lambda: per_set_dcnv2(model, ids)):
        with tf.GradientTape() as tape:
            predictions = forward()
            loss = keras.losses.binary_crossentropy(labels, predictions)
        gradients = tape.gradient(loss, model.trainable_variables)
        results.append((ops.convert_to_numpy(predictions), [ops.convert_to_numpy(g) for g in gradients]))
    (batched, batched_gradients), (per_set, per_set_gradients) = results
    np.testing.assert_allclose(batched, per_set, rtol=1e-5, atol=1e-6)
    for variable, expected, actual in zip(model.trainable_variables, per_set_gradients, batched_gradients):
        np.testing.assert_allclose(actual, expected, rtol=1e-4, atol=1e-6, err_msg=variable.path)


def test_mixed_precision_embedding_casts_only_the_gathered_rows():
    """Under mixed_bfloat16 the table stays float32, the output is bf16(table[rows]) and the gradient row-sparse."""
    keras.config.set_dtype_policy("mixed_bfloat16")
    try:
        layer = FieldEmbedding(FIELD_DIMS, embedding_dim=K, num_sets=NUM_SETS)
        ids = random_ids(8)
        with tf.GradientTape() as tape:
            output = layer(ids)
            loss = ops.sum(ops.cast(output, "float32"))
    finally:
        keras.config.set_dtype_policy("float32")
    offsets = np.concatenate([[0], np.cumsum(FIELD_DIMS)[:-1]])
    table = ops.convert_to_numpy(layer.embeddings)
    expected = table[ids + offsets].reshape(8, len(FIELD_DIMS), NUM_SETS, K).transpose(0, 2, 1, 3)
    assert layer.embeddings.dtype == "float32" and output.dtype == "bfloat16"
    np.testing.assert_array_equal(ops.convert_to_numpy(ops.cast(output, "float32")),
                                  ops.convert_to_numpy(ops.cast(ops.cast(expected, "bfloat16"), "float32")))
    gradient = tape.gradient(loss, layer.embeddings.value)
    assert isinstance(gradient, tf.IndexedSlices)
    dense = np.zeros_like(table)
    np.add.at(dense, (ids + offsets).ravel(), 1.0)
    np.testing.assert_array_equal(ops.convert_to_numpy(tf.convert_to_tensor(gradient)), dense)


def test_set_dense_batched_matmul_equals_einsum():
    """SetDense's transpose + batched matmul = einsum("bmi,mio->bmo") + bias, outputs and gradients."""
    from tf_multiemb.layers import SetDense

    x = tf.constant(np.random.default_rng(2).standard_normal((8, NUM_SETS, 5)).astype("float32"))
    layer = SetDense(4)
    layer.build(x.shape)
    layer.bias.assign(np.arange(NUM_SETS * 4, dtype="float32").reshape(NUM_SETS, 4))
    results = []
    for forward in (lambda: layer(x), lambda: ops.einsum("bmi,mio->bmo", x, layer.kernel) + layer.bias):
        with tf.GradientTape() as tape:
            tape.watch(x)
            loss = ops.sum(ops.square(forward()))
        results.append([ops.convert_to_numpy(g) for g in tape.gradient(loss, [x, layer.kernel.value, layer.bias.value])]
                       + [ops.convert_to_numpy(loss)])
    for actual, expected in zip(*results):
        np.testing.assert_allclose(actual, expected, rtol=1e-5, atol=1e-5)
