"""Scale semantics of `build_model`: equal embedding parameters for SE and ME at every scale."""

import itertools
import pathlib

import numpy as np
import pytest

from tf_multiemb import BACKBONES, build_model
from tf_multiemb.models import embedding_layout

FIELD_DIMS = [7, 5, 9, 4, 6]


def embedding_parameters(model):
    return sum(int(np.prod(w.shape)) for w in model.field_embedding.weights)


@pytest.mark.parametrize("name", sorted(BACKBONES))
def test_single_and_multi_embedding_hold_equal_parameters(name):
    base = BACKBONES[name][1]
    for scale in (1, 2, 3, 4, 10):
        single = build_model(name, FIELD_DIMS, "single", scale, hidden_units=(8,))
        multi = build_model(name, FIELD_DIMS, "multi", scale, hidden_units=(8,))
        assert (single.num_sets, multi.num_sets) == (1, scale)
        assert single.embedding_dim == scale * multi.embedding_dim
        expected = sum(FIELD_DIMS) * scale * base * (len(FIELD_DIMS) - 1 if name == "ffm" else 1)
        assert embedding_parameters(single) == embedding_parameters(multi) == expected
        assert multi.embedding_parameter_count() == expected


def test_ffm_embedding_row_holds_one_sub_embedding_per_other_field():
    assert embedding_layout("ffm", "single", 2, num_fields=5) == (1, 2 * 4 * 4)
    assert embedding_layout("ffm", "multi", 2, num_fields=5) == (2, 4 * 4)
    with pytest.raises(ValueError, match="num_fields"):
        embedding_layout("ffm", "multi", 2)


@pytest.mark.parametrize("arguments, message", [
    (("nope", "single", 1), "unknown model"),
    (("dnn", "double", 1), "embedding mode"),
    (("dnn", "single", 0), "positive integer"),
])
def test_bad_arguments_are_rejected(arguments, message):
    with pytest.raises(ValueError, match=message):
        build_model(arguments[0], FIELD_DIMS, embedding=arguments[1], scale=arguments[2])


def test_unknown_projection_is_rejected():
    with pytest.raises(ValueError, match="projection"):
        build_model("dnn", FIELD_DIMS, projection="relu")


def test_every_backbone_has_scaling_study_flagfiles():
    configs = pathlib.Path(__file__).resolve().parents[1] / "configs"
    for dataset in ("criteo", "avazu"):
        for name in BACKBONES:
            for mode, scale in itertools.product(("se", "me"), (1, 2, 3, 4, 10)):
                text = (configs / dataset / f"{name}_{mode}_{scale}x.flags").read_text()
                assert f"--model={name}\n" in text and f"--scale={scale}\n" in text
