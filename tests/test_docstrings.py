"""The public API documents itself keras-rs style, and every docstring example runs (issue 26).

Each public module's doctests run under the default backend; the expected example counts catch
a deleted or emptied `Example:` section, which a bare "no failures" would let through.
"""

import doctest
import importlib
import inspect

import keras
import pytest

from tf_multiemb import callbacks, collapse, cross_blocks, layers, models, optimizers, sub_embedding

# Module -> the number of doctest examples (">>>" lines) it holds.
DOCTEST_EXAMPLES = {
    "tf_multiemb.callbacks": 24,
    "tf_multiemb.collapse": 21,
    "tf_multiemb.cross_blocks": 10,
    "tf_multiemb.layers.bilinear_fusion": 4,
    "tf_multiemb.layers.compressed_interaction": 3,
    "tf_multiemb.layers.concatenation": 4,
    "tf_multiemb.layers.cross_network": 4,
    "tf_multiemb.layers.factorization_machine": 5,
    "tf_multiemb.layers.feature_selection": 6,
    "tf_multiemb.layers.field_aware": 5,
    "tf_multiemb.layers.field_embedding": 4,
    "tf_multiemb.layers.field_weighted": 4,
    "tf_multiemb.layers.inner_product": 4,
    "tf_multiemb.layers.mlp": 4,
    "tf_multiemb.layers.per_set": 3,
    "tf_multiemb.layers.self_attention": 3,
    "tf_multiemb.layers.set_dense": 4,
    "tf_multiemb.models.multi_embedding": 5,
    "tf_multiemb.models.registry": 13,
    "tf_multiemb.optimizers": 6,
    "tf_multiemb.sub_embedding": 15,
}
API_MODULES = (callbacks, collapse, cross_blocks, optimizers, sub_embedding)
EXPORTING_PACKAGES = (layers, models)


def defined_public_names(module):
    """Public functions and classes defined in `module` itself (not imported into it)."""
    return {f"{module.__name__}.{name}": value for name, value in vars(module).items()
            if not name.startswith("_") and (inspect.isfunction(value) or inspect.isclass(value))
            and value.__module__ == module.__name__}


def public_api():
    api = {}
    for module in API_MODULES:
        api.update(defined_public_names(module))
    for package in EXPORTING_PACKAGES:
        api.update({f"{package.__name__}.{name}": getattr(package, name) for name in package.__all__
                    if callable(getattr(package, name))})
    return api


PUBLIC_API = public_api()


def documented_signature(value):
    """The signature the docstring's `Args:` describes: the function's, or the class's own `__init__`."""
    if inspect.isclass(value):
        return inspect.signature(value.__init__) if "__init__" in vars(value) else None
    return inspect.signature(value)


def named_parameters(signature):
    return [p for p in signature.parameters.values()
            if p.name != "self" and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)]


def test_public_api_covers_the_issue_scope():
    names = {name.rsplit(".", 1)[-1] for name in PUBLIC_API}
    expected = {"build_model", "embedding_layout", "MultiEmbeddingModel", "AdamL2", "InformationAbundance",
                "ThroughputCallback", "information_abundance", "relative_information_abundance", "kernel_blocks",
                "cross_kernel_blocks", "interaction_pattern", "dcnv2_sub_embedding_information_abundance",
                *layers.__all__}
    assert expected <= names
    assert len(PUBLIC_API) >= 37


@pytest.mark.parametrize("module_name", sorted(DOCTEST_EXAMPLES))
def test_docstring_examples_run(module_name):
    module = importlib.import_module(module_name)
    results = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert results.failed == 0
    assert results.attempted >= DOCTEST_EXAMPLES[module_name]


@pytest.mark.parametrize("name", sorted(PUBLIC_API))
def test_public_docstring_has_keras_rs_sections(name):
    value = PUBLIC_API[name]
    doc = inspect.getdoc(value) or ""
    summary = doc.split("\n", 1)[0]
    assert summary.endswith(".") and len(summary) <= 120, f"{name}: one-line summary, got {summary!r}"
    assert "Example:" in doc and ">>> " in doc.split("Example:", 1)[1], f"{name}: no runnable Example:"
    assert "References:" in doc, f"{name}: no References:"
    if inspect.isclass(value) and issubclass(value, keras.layers.Layer):
        assert "Input shape:" in doc and "Output shape:" in doc, f"{name}: no Input/Output shape:"
    elif inspect.isfunction(value):
        assert "Returns:" in doc, f"{name}: no Returns:"
    signature = documented_signature(value)
    parameters = named_parameters(signature) if signature else []
    if parameters:
        arguments = doc.split("Args:", 1)[-1]
        assert "Args:" in doc and all(f"{p.name}:" in arguments for p in parameters), f"{name}: Args: incomplete"


@pytest.mark.parametrize("name", sorted(name for name, value in PUBLIC_API.items() if documented_signature(value)))
def test_public_signature_has_type_hints(name):
    signature = documented_signature(PUBLIC_API[name])
    missing = [p.name for p in named_parameters(signature) if p.annotation is inspect.Parameter.empty]
    assert not missing, f"{name}: parameters without type hints: {missing}"
    assert signature.return_annotation is not inspect.Signature.empty, f"{name}: no return type hint"
