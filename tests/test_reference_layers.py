"""DCNv2 cross layers (CrossNetV2, M = 1) against keras_rs.layers.FeatureCross and TensorFlow
Recommenders' tfrs.layers.dcn.Cross (Keras 2 only: run in a subprocess with TF_USE_LEGACY_KERAS=1)."""

import os
import subprocess
import sys
import textwrap

import numpy as np
import keras_rs

from tf_multiemb.layers import CrossNetV2

BATCH, FIELDS, DIM, LAYERS = 4, 3, 2, 3
WIDTH = FIELDS * DIM

TFRS_SCRIPT = textwrap.dedent("""
    import sys
    import numpy as np
    import tensorflow_recommenders as tfrs
    folder, num_layers = sys.argv[1], int(sys.argv[2])
    x0 = np.load(f"{folder}/inputs.npy")
    x = x0
    for index in range(num_layers):
        cross = tfrs.layers.dcn.Cross()
        cross(x0, x)  # creates the weights
        cross.set_weights([np.load(f"{folder}/kernel_{index}.npy"), np.load(f"{folder}/bias_{index}.npy")])
        x = cross(x0, x).numpy()
    np.save(f"{folder}/tfrs_outputs.npy", x)
""")


def fixed_cross_network():
    rng = np.random.default_rng(5)
    inputs = rng.normal(size=(BATCH, 1, FIELDS, DIM)).astype("float32")
    layer = CrossNetV2(num_layers=LAYERS)
    layer.build(inputs.shape)
    kernels = [rng.normal(scale=0.4, size=(WIDTH, WIDTH)).astype("float32") for _ in range(LAYERS)]
    biases = [rng.normal(scale=0.1, size=(WIDTH,)).astype("float32") for _ in range(LAYERS)]
    for variable, value in zip(layer.kernels + layer.biases, kernels + biases):
        variable.assign(value[None])
    outputs = np.asarray(layer(inputs))[:, 0]
    return inputs.reshape(BATCH, WIDTH), kernels, biases, outputs


def test_cross_network_equals_keras_rs_feature_cross():
    x0, kernels, biases, outputs = fixed_cross_network()
    x = x0
    for kernel, bias in zip(kernels, biases):
        cross = keras_rs.layers.FeatureCross(diag_scale=0.0)
        cross(x0, x)  # creates the weights
        cross.dense.kernel.assign(kernel)
        cross.dense.bias.assign(bias)
        x = np.asarray(cross(x0, x))
    np.testing.assert_allclose(outputs, x, rtol=1e-5, atol=1e-5)


def test_cross_network_equals_tfrs_cross(tmp_path):
    x0, kernels, biases, outputs = fixed_cross_network()
    np.save(tmp_path / "inputs.npy", x0)
    for index, (kernel, bias) in enumerate(zip(kernels, biases)):
        np.save(tmp_path / f"kernel_{index}.npy", kernel)
        np.save(tmp_path / f"bias_{index}.npy", bias)
    environment = {**os.environ, "TF_USE_LEGACY_KERAS": "1", "CUDA_VISIBLE_DEVICES": ""}
    result = subprocess.run([sys.executable, "-c", TFRS_SCRIPT, str(tmp_path), str(LAYERS)],
                            env=environment, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    np.testing.assert_allclose(outputs, np.load(tmp_path / "tfrs_outputs.npy"), rtol=1e-5, atol=1e-5)
