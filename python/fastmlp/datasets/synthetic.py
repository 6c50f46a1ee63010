"""Seeded generators of small synthetic problems (float32 features), for examples and tests."""

from __future__ import annotations

import typing as _typing

import numpy as np

if _typing.TYPE_CHECKING:
    from typing import Optional, Tuple

__all__ = ["make_moons", "make_regression", "make_spirals"]


def _check_count(name: str, value: int, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


def _check_noise(noise: float) -> float:
    if not np.isfinite(noise) or noise < 0:
        raise ValueError(f"noise must be a finite number >= 0, got {noise!r}")
    return float(noise)


def make_spirals(n_samples: int = 1000, noise: float = 0.1, turns: float = 1.5,
                 seed: Optional[int] = 0) -> Tuple[np.ndarray, np.ndarray]:
    """Two interleaved spirals in 2-D, the classic hard problem for small MLPs.

    Returns x float32 (n_samples, 2) in about [-1, 1]^2 and y int32 (n_samples,) in {0, 1}; class
    sizes differ by at most one. `turns`: how many full turns each arm makes; `noise`: standard
    deviation of Gaussian noise added to each coordinate, relative to the outer radius.
    """
    n_samples = _check_count("n_samples", n_samples, 2)
    noise = _check_noise(noise)
    if not np.isfinite(turns) or turns <= 0:
        raise ValueError(f"turns must be a finite number > 0, got {turns!r}")
    rng = np.random.default_rng(seed)
    y = np.arange(n_samples) % 2
    t = rng.uniform(0.0, 1.0, n_samples)
    # sqrt spreads points evenly along the arm instead of crowding the centre.
    r = np.sqrt(t)
    angle = 2.0 * np.pi * turns * r + np.pi * y
    x = np.stack([r * np.cos(angle), r * np.sin(angle)], axis=1)
    x += rng.normal(0.0, noise, x.shape)
    return x.astype(np.float32), y.astype(np.int32)


def make_moons(n_samples: int = 1000, noise: float = 0.1,
               seed: Optional[int] = 0) -> Tuple[np.ndarray, np.ndarray]:
    """Two interleaving half circles (scikit-learn's ``make_moons`` semantics, shuffled).

    Returns x float32 (n_samples, 2) and y int32 (n_samples,); the first ceil(n/2) points before
    shuffling are the upper moon (label 0), as in scikit-learn.
    """
    n_samples = _check_count("n_samples", n_samples, 2)
    noise = _check_noise(noise)
    rng = np.random.default_rng(seed)
    n_out = n_samples // 2
    n_in = n_samples - n_out
    a_out = np.linspace(0, np.pi, n_out)
    a_in = np.linspace(0, np.pi, n_in)
    x = np.concatenate([
        np.stack([np.cos(a_in), np.sin(a_in)], axis=1),
        np.stack([1.0 - np.cos(a_out), 1.0 - np.sin(a_out) - 0.5], axis=1),
    ])
    y = np.concatenate([np.zeros(n_in), np.ones(n_out)])
    x += rng.normal(0.0, noise, x.shape)
    order = rng.permutation(n_samples)
    return x[order].astype(np.float32), y[order].astype(np.int32)


def make_regression(n_samples: int = 1000, n_features: int = 10, n_informative: int = 5,
                    n_targets: int = 1, bias: float = 0.0, noise: float = 0.0,
                    seed: Optional[int] = 0, coef: bool = False):
    """A random linear regression problem (scikit-learn's ``make_regression`` semantics).

    x is standard normal (n_samples, n_features); only the first `n_informative` features carry
    weights, drawn uniformly from [0, 100); y = x @ w + bias + N(0, noise^2). Returns x float32
    and y float32 of shape (n_samples,) when n_targets == 1 else (n_samples, n_targets); with
    `coef=True` also the weights (n_features,) or (n_features, n_targets). Unlike scikit-learn,
    the informative features are not shuffled among the others, so `coef` reads directly.
    """
    n_samples = _check_count("n_samples", n_samples, 1)
    n_features = _check_count("n_features", n_features, 1)
    n_informative = _check_count("n_informative", n_informative, 0)
    n_targets = _check_count("n_targets", n_targets, 1)
    noise = _check_noise(noise)
    n_informative = min(n_informative, n_features)
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n_samples, n_features))
    w = np.zeros((n_features, n_targets))
    w[:n_informative] = 100.0 * rng.uniform(size=(n_informative, n_targets))
    y = x @ w + bias
    if noise > 0:
        y += rng.normal(0.0, noise, y.shape)
    if n_targets == 1:
        y, w = y[:, 0], w[:, 0]
    out = (x.astype(np.float32), y.astype(np.float32))
    return out + (w.astype(np.float32),) if coef else out
