"""trainers.fit.evaluate traces the model's predictions once: no retrace for the split's last, partial batch."""

import warnings

import numpy as np
import pytest
import tensorflow as tf

from tf_multiemb import build_model
from tf_multiemb.metrics import log_loss, roc_auc
from trainers.fit import evaluate
from trainers.tensorflow_runtime import TensorFlowRuntime

FIELD_DIMS = [7, 5, 11]


def test_one_trace_for_a_split_with_a_partial_last_batch():
    rng = np.random.default_rng(0)
    ids = np.stack([rng.integers(0, d, 300) for d in FIELD_DIMS], axis=1).astype(np.int32)
    labels = rng.integers(0, 2, (300, 1)).astype(np.float32)
    dataset = tf.data.Dataset.from_tensor_slices((ids, labels)).batch(128)  # 128, 128, 44
    model = build_model("dcnv2", FIELD_DIMS, embedding_dim=2, hidden_units=(4,), num_layers=1)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # Keras' "Your input ran out of data" would fail here
        auc, logloss = evaluate(model, TensorFlowRuntime(), dataset)
    assert model.predict_function.experimental_get_tracing_count() == 1
    probabilities = np.asarray(model(ids, training=False))  # all 300 examples, none of the filler
    assert auc == pytest.approx(roc_auc(labels, probabilities), abs=1e-12)
    assert logloss == pytest.approx(log_loss(labels, probabilities), rel=1e-5)
