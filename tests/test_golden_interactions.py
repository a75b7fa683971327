"""Golden values for every interaction block on 3 fields, K = 2, M = 2 sets, fixed weights.

Expected values come from plain numpy loops written from the papers' equations, never from the
layers under test.
"""

import itertools

import numpy as np
import pytest

from tf_multiemb.layers import (CompressedInteraction, FactorizationMachineInteraction, FeatureSelectionGate,
                                FieldAwareInteraction, FieldConcatenation, FieldWeightedInteraction,
                                InnerProductInteraction, MultiHeadBilinearFusion, SelfAttentionInteraction)

BATCH, SETS, FIELDS, DIM = 2, 2, 3, 2


def embeddings(width=DIM):
    rng = np.random.default_rng(7)
    return rng.normal(size=(BATCH, SETS, FIELDS, width)).astype("float32")


def build_with_fixed_weights(layer, input_shape, seed=3):
    """Builds `layer` and overwrites every weight with seeded normals; returns {weight name: array}."""
    layer.build(input_shape)
    rng = np.random.default_rng(seed)
    weights = {}
    for variable in layer.weights:
        value = (0.5 * rng.normal(size=variable.shape)).astype("float32")
        variable.assign(value)
        weights[variable.name] = value
    return weights


def run(layer, e):
    return np.asarray(layer(e))


def test_fm_hand_worked():
    e = np.array([[[[1.0, 2.0], [3.0, -1.0], [0.5, 4.0]]]], dtype="float32")  # (1, 1, 3, 2)
    # e1*e2 + e1*e3 + e2*e3 = [3, -2] + [0.5, 8] + [1.5, -4] = [5, 2]; e1+e2+e3 = [4.5, 5]; <1, e_i> = 3, 2, 4.5
    np.testing.assert_allclose(run(FactorizationMachineInteraction(first_order=False), e), [[[5.0, 2.0]]], rtol=1e-6)
    np.testing.assert_allclose(run(FactorizationMachineInteraction(), e), [[[5.0, 2.0, 4.5, 5.0, 3.0, 2.0, 4.5]]], rtol=1e-6)


def test_fm_matches_pair_sum():
    e = embeddings()
    expected = np.zeros((BATCH, SETS, DIM))
    for b, m in itertools.product(range(BATCH), range(SETS)):
        for i, j in itertools.combinations(range(FIELDS), 2):
            expected[b, m] += e[b, m, i] * e[b, m, j]
    np.testing.assert_allclose(run(FactorizationMachineInteraction(first_order=False), e), expected, rtol=1e-5,
                               atol=1e-6)


def test_concatenation():
    e = embeddings()
    expected = np.array([[np.concatenate(list(e[b, m])) for m in range(SETS)] for b in range(BATCH)])
    np.testing.assert_array_equal(run(FieldConcatenation(), e), expected)


def test_inner_products():
    e = embeddings()
    expected = []
    for b in range(BATCH):
        per_set = []
        for m in range(SETS):
            products = [np.dot(e[b, m, i], e[b, m, j]) for i, j in itertools.combinations(range(FIELDS), 2)]
            per_set.append(np.concatenate([e[b, m].reshape(-1), products]))
        expected.append(per_set)
    layer = InnerProductInteraction()
    layer.build(e.shape)
    np.testing.assert_allclose(run(layer, e), np.array(expected), rtol=1e-5, atol=1e-6)


def test_field_weighted():
    e = embeddings()
    layer = FieldWeightedInteraction()
    (r,) = build_with_fixed_weights(layer, e.shape).values()
    expected = np.zeros((BATCH, SETS, DIM))
    for b, m, i, j in itertools.product(range(BATCH), range(SETS), range(FIELDS), range(FIELDS)):
        expected[b, m] += r[m, i, j] * e[b, m, i] * e[b, m, j]
    np.testing.assert_allclose(run(layer, e), expected, rtol=1e-5, atol=1e-6)


def test_compressed_interaction_network():
    e = embeddings()
    sizes = (2, 3)
    layer = CompressedInteraction(layer_sizes=sizes)
    weights = build_with_fixed_weights(layer, e.shape)
    expected = np.zeros((BATCH, SETS, sum(sizes) + FIELDS * DIM))
    for b, m in itertools.product(range(BATCH), range(SETS)):
        previous, pooled = e[b, m], []
        for index, size in enumerate(sizes):
            w = weights[f"kernel_{index}"][m]  # (H_prev, N, H)
            hidden = np.zeros((size, DIM))
            for h, i, j in itertools.product(range(size), range(previous.shape[0]), range(FIELDS)):
                hidden[h] += w[i, j, h] * previous[i] * e[b, m, j]
            pooled.extend(hidden.sum(axis=1))
            previous = hidden
        expected[b, m] = np.concatenate([pooled, e[b, m].reshape(-1)])
    np.testing.assert_allclose(run(layer, e), expected, rtol=1e-4, atol=1e-5)


def test_field_aware():
    sub = 2
    e = embeddings(width=(FIELDS - 1) * sub)
    expected = np.zeros((BATCH, SETS, sub))

    def sub_embedding(b, m, i, j):  # e_{i->j}: slot j, or j - 1 past the own field
        slot = j if j < i else j - 1
        return e[b, m, i, slot * sub:(slot + 1) * sub]

    for b, m in itertools.product(range(BATCH), range(SETS)):
        for i, j in itertools.combinations(range(FIELDS), 2):
            expected[b, m] += sub_embedding(b, m, i, j) * sub_embedding(b, m, j, i)
    layer = FieldAwareInteraction()
    layer.build(e.shape)
    first_order = [e.sum(axis=2), e.sum(axis=3)]  # FM's linear terms: rows summed over fields; each row's sum
    np.testing.assert_allclose(run(layer, e), np.concatenate([expected, *first_order], axis=-1), rtol=1e-5, atol=1e-6)


def test_field_aware_rejects_indivisible_width():
    with pytest.raises(ValueError, match="divisible"):
        FieldAwareInteraction().build((None, 1, 3, 5))


def softmax(x):
    z = np.exp(x - x.max(axis=-1, keepdims=True))
    return z / z.sum(axis=-1, keepdims=True)


@pytest.mark.parametrize("layer_norm", [False, True])
def test_self_attention(layer_norm):
    e = embeddings()
    heads, layers = 2, 2
    layer = SelfAttentionInteraction(num_layers=layers, num_heads=heads, layer_norm=layer_norm)
    weights = build_with_fixed_weights(layer, e.shape)
    if layer_norm:  # non-trivial affine parameters were drawn too
        assert f"gamma_{layers - 1}" in weights
    expected = []
    for b in range(BATCH):
        per_set = []
        for m in range(SETS):
            x = e[b, m].astype("float64")
            for index in range(layers):
                q, k, v, res = (x @ weights[f"{role}_{index}"][m] for role in ("query", "key", "value", "residual"))
                d = q.shape[1] // heads
                out = np.concatenate([softmax(q[:, h * d:(h + 1) * d] @ k[:, h * d:(h + 1) * d].T) @ v[:, h * d:(h + 1) * d]
                                      for h in range(heads)], axis=1)
                x = np.maximum(out + res, 0.0)
                if layer_norm:
                    x = (x - x.mean(-1, keepdims=True)) / np.sqrt(x.var(-1, keepdims=True) + 1e-6)
                    x = x * weights[f"gamma_{index}"][m, 0] + weights[f"beta_{index}"][m, 0]
            per_set.append(x.reshape(-1))
        expected.append(per_set)
    np.testing.assert_allclose(run(layer, e), np.array(expected), rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("feature_selection", [True, False])
def test_feature_selection_gate(feature_selection):
    e = embeddings()
    layer = FeatureSelectionGate(feature_selection=feature_selection, gate_units=3)
    weights = build_with_fixed_weights(layer, e.shape)
    expected = np.zeros((BATCH, SETS, 2 * FIELDS * DIM))
    for b, m in itertools.product(range(BATCH), range(SETS)):
        flat = e[b, m].reshape(-1)
        views = []
        for s in range(2):
            gate = np.ones_like(flat)
            if feature_selection:
                hidden = np.maximum(weights["context"][m, s] @ weights["hidden_kernel"][m, s]
                                    + weights["hidden_bias"][m, s], 0.0)
                logits = hidden @ weights["gate_kernel"][m, s] + weights["gate_bias"][m, s]
                gate = 2.0 / (1.0 + np.exp(-logits))
            views.append(gate * flat)
        expected[b, m] = np.concatenate(views)
    np.testing.assert_allclose(run(layer, e), expected, rtol=1e-5, atol=1e-6)


def test_bilinear_fusion():
    units, heads = 4, 2
    streams = np.random.default_rng(1).normal(size=(BATCH, 2, units)).astype("float32")
    layer = MultiHeadBilinearFusion(num_heads=heads)
    weights = build_with_fixed_weights(layer, streams.shape)
    expected = np.zeros((BATCH, 1))
    d = units // heads
    for b in range(BATCH):
        first, second = streams[b]
        expected[b] = weights["bias"][0] + weights["linear_kernel"][0] @ first + weights["linear_kernel"][1] @ second
        for h in range(heads):
            # Eq. 4 with W_h = bilinear_kernel[h] / d (the layer's Adam-friendly parametrisation).
            expected[b] += first[h * d:(h + 1) * d] @ (weights["bilinear_kernel"][h] / d) @ second[h * d:(h + 1) * d]
    np.testing.assert_allclose(run(layer, streams), expected, rtol=1e-5, atol=1e-5)
