"""Paper Appendix E: with a linear interaction (DNN's concatenation) and a linear projection,
multi-embedding equals single-embedding of width M*K under a weight mapping; the paper's
non-linear projection (Dense -> BN -> ReLU) breaks that equivalence."""

import numpy as np
import pytest

from tf_multiemb import build_model

FIELD_DIMS = [7, 5, 9, 4, 6]
SETS, BASE, UNITS = 3, 4, 8


def projection_dense(model):
    """The projection's SetDense: the projection itself when linear, its Dense inside an MLPBlock."""
    return getattr(model.projection, "dense", model.projection)


def map_multi_onto_single(multi, single):
    """Copies ME weights into SE so that SE computes what ME computes (Appendix E, "Projected DNN").

    The packed table is the same: set m is columns [m*K, (m+1)*K) of the SE row. SE's projection row
    for (field i, column m*K + k) is ME's set-m row (i, k) divided by M; its bias is the mean of
    ME's biases (ME averages the projected sets).
    """
    single.field_embedding.embeddings.assign(multi.field_embedding.embeddings)
    me_kernel = np.asarray(projection_dense(multi).kernel)  # (M, N*K, U)
    num_fields = len(FIELD_DIMS)
    se_kernel = me_kernel.reshape(SETS, num_fields, BASE, UNITS).transpose(1, 0, 2, 3) / SETS
    projection_dense(single).kernel.assign(se_kernel.reshape(1, num_fields * SETS * BASE, UNITS))
    projection_dense(single).bias.assign(np.asarray(projection_dense(multi).bias).mean(axis=0, keepdims=True))
    for se_block, me_block in zip([*single.head, single.output_layer], [*multi.head, multi.output_layer]):
        for se_weight, me_weight in zip(se_block.weights, me_block.weights):
            se_weight.assign(me_weight)


def randomize(model, seed):
    rng = np.random.default_rng(seed)
    for weight in model.weights:
        if weight.trainable:
            weight.assign(rng.normal(scale=0.5, size=weight.shape).astype("float32"))


@pytest.fixture(scope="module")
def ids():
    rng = np.random.default_rng(1)
    return np.stack([rng.integers(0, d, size=32) for d in FIELD_DIMS], axis=1).astype("int32")


def pair(projection):
    kwargs = dict(embedding_dim=BASE, hidden_units=(UNITS, UNITS), dropout=0.0, projection=projection)
    multi = build_model("dnn", FIELD_DIMS, "multi", SETS, **kwargs)
    single = build_model("dnn", FIELD_DIMS, "single", SETS, **kwargs)
    return multi, single


def test_linear_projection_multi_embedding_equals_single_embedding(ids):
    multi, single = pair("linear")
    randomize(multi, seed=0)
    map_multi_onto_single(multi, single)
    np.testing.assert_allclose(np.asarray(single(ids, training=False)), np.asarray(multi(ids, training=False)),
                               rtol=1e-5, atol=1e-6)


def test_nonlinear_projection_breaks_the_equivalence(ids):
    multi, single = pair("mlp")
    randomize(multi, seed=0)
    map_multi_onto_single(multi, single)
    # Align the BatchNorm statistics too: identity normalisation in both, so only the ReLU differs.
    for model in (multi, single):
        norm = model.projection.batch_norm
        for statistic, value in ((norm.moving_mean, 0.0), (norm.moving_variance, 1.0), (norm.gamma, 1.0),
                                 (norm.beta, 0.0)):
            statistic.assign(np.full(statistic.shape, value, dtype="float32"))
    difference = np.abs(np.asarray(single(ids, training=False)) - np.asarray(multi(ids, training=False)))
    assert difference.max() > 1e-2
