"""The public modules' namespaces (issue 18): each defines ``__all__``, every name it lists
exists, and nothing else public is reachable: no ``typing`` / ``collections.abc`` names
(``fastmlp.layers.Any`` and ``fastmlp.losses.Dict`` existed) and no helper imports
(``fastmlp.losses.real_array``), only ``__all__`` and submodules."""

import __future__
import collections.abc
import importlib
import pkgutil
import types
import typing

import pytest

import fastmlp


def _public_modules():
    names = ["fastmlp"]
    for info in pkgutil.walk_packages(fastmlp.__path__, "fastmlp."):
        parts = info.name.split(".")[1:]
        if not any(part.startswith("_") for part in parts):
            names.append(info.name)
    return names


PUBLIC = _public_modules()


def _public_names(module):
    """Names of ``dir(module)`` a user would take for API. ``annotations`` is the feature
    ``from __future__ import annotations`` binds in every module that uses it."""
    return [name for name in dir(module) if not name.startswith("_")
            and not (name == "annotations" and module.annotations is __future__.annotations)]


def test_the_walk_finds_the_packages_and_their_modules():
    for expected in ("fastmlp.layers", "fastmlp.metrics", "fastmlp.losses", "fastmlp.saving",
                     "fastmlp.models.sequential", "fastmlp.datasets.idx", "fastmlp.cli"):
        assert expected in PUBLIC
    assert not [name for name in PUBLIC if "._" in name]


@pytest.mark.parametrize("name", PUBLIC)
def test_all_is_defined_and_every_entry_exists(name):
    module = importlib.import_module(name)
    assert isinstance(module.__all__, list)
    assert len(set(module.__all__)) == len(module.__all__)
    assert [entry for entry in module.__all__ if not hasattr(module, entry)] == []


@pytest.mark.parametrize("name", PUBLIC)
def test_no_typing_name_is_reachable(name):
    module = importlib.import_module(name)
    exported = []
    for attr in _public_names(module):
        value = getattr(module, attr)
        if isinstance(value, types.ModuleType):  # typing's own imports (typing.sys) aside
            if value in (typing, collections.abc):
                exported.append(attr)
        elif getattr(value, "__module__", None) in ("typing", "collections.abc") or \
                any(getattr(source, attr, None) is value for source in (typing, collections.abc)):
            exported.append(attr)
    assert exported == []


@pytest.mark.parametrize("name", PUBLIC)
def test_every_public_name_is_in_all_or_a_module(name):
    module = importlib.import_module(name)
    stray = [attr for attr in _public_names(module) if attr not in module.__all__
             and not isinstance(getattr(module, attr), types.ModuleType)]
    assert stray == []


def test_layers_and_metrics_live_in_their_family_modules_under_the_same_names():
    """The packages group classes as Keras does; the names configs store are unchanged (the
    saved format names classes, never modules)."""
    from fastmlp import layers, metrics
    families = {"core": ["Activation", "Dense", "Identity", "InputLayer", "KerasTensor"],
                "base": ["Layer"],
                "activations": ["ELU", "LeakyReLU", "PReLU", "ReLU", "Softmax"],
                "regularization": ["AlphaDropout", "Dropout", "GaussianDropout", "GaussianNoise"],
                "normalization": ["BatchNormalization", "LayerNormalization"],
                "preprocessing": ["Normalization", "Rescaling"], "reshaping": ["Flatten", "Reshape"]}
    for family, names in families.items():
        for name in names:
            assert getattr(layers, name).__module__ == f"fastmlp.layers.{family}"
    assert sorted(layers._CLASSES) == sorted(n for f in families.values() for n in f
                                             if n not in ("KerasTensor", "Layer"))
    assert layers.serialize(layers.Dense(2))["class_name"] == "Dense"
    families = {"base": ["Metric", "MeanMetricWrapper"],
                "accuracy_metrics": ["BinaryAccuracy", "CategoricalAccuracy",
                                     "SparseCategoricalAccuracy", "TopKCategoricalAccuracy",
                                     "SparseTopKCategoricalAccuracy"],
                "regression_metrics": ["MeanAbsoluteError", "MeanSquaredError",
                                       "RootMeanSquaredError", "R2Score",
                                       "MeanAbsolutePercentageError",
                                       "MeanSquaredLogarithmicError", "LogCoshError",
                                       "CosineSimilarity"],
                "confusion_metrics": ["AUC", "Precision", "Recall", "TruePositives",
                                      "FalsePositives", "TrueNegatives", "FalseNegatives"],
                "f_score_metrics": ["F1Score", "FBetaScore"],
                "probabilistic_metrics": ["BinaryCrossentropy", "CategoricalCrossentropy",
                                          "SparseCategoricalCrossentropy", "KLDivergence",
                                          "Poisson"],
                "hinge_metrics": ["Hinge", "SquaredHinge", "CategoricalHinge"]}
    for family, names in families.items():
        for name in names:
            cls = getattr(metrics, name)
            assert cls.__module__ == f"fastmlp.metrics.{family}" and cls.__name__ == name
    assert sorted(metrics._CLASSES) == sorted(n for f in families.values() for n in f
                                              if n not in ("Metric", "MeanMetricWrapper"))
    assert metrics.serialize(metrics.CategoricalAccuracy()) == {
        "class_name": "CategoricalAccuracy", "config": {"name": "categorical_accuracy"}}
