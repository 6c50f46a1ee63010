"""The diabetes regression data set (Efron, Hastie, Johnstone & Tibshirani, "Least Angle
Regression", Annals of Statistics 2004), shipped inside the package (``data/diabetes.npz``).

442 patients, 10 baseline variables (age, sex, body mass index, average blood pressure and six
blood serum measurements, unstandardized), and the target: a quantitative measure of disease
progression one year after baseline (25 to 346). The same data scikit-learn ships as
``load_diabetes(scaled=False)``.
"""

from __future__ import annotations

import pathlib

import numpy as np

__all__ = ["DATA_FILE", "FEATURE_NAMES", "load_data"]

DATA_FILE = pathlib.Path(__file__).resolve().parent / "data" / "diabetes.npz"
FEATURE_NAMES = ("age", "sex", "bmi", "bp", "s1", "s2", "s3", "s4", "s5", "s6")


def load_data():
    """Return ``(x, y)``: float32 arrays of shapes (442, 10) and (442,)."""
    with np.load(DATA_FILE, allow_pickle=False) as f:
        return f["x"], f["y"]
