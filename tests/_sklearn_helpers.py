"""Shared by the fastmlp.sklearn tests (test_sklearn*.py); import after the sklearn importorskip."""

import warnings

import pytest
from sklearn.datasets import make_classification
from sklearn.exceptions import ConvergenceWarning
from sklearn.preprocessing import StandardScaler


def quiet_fit(est, X, y, **kw):
    """Fits where stopping at max_iter is expected (ConvergenceWarning ignored)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return est.fit(X, y, **kw)


@pytest.fixture(scope="module")
def clf_data():
    """300 standardized rows, 10 features, 3 classes."""
    X, y = make_classification(n_samples=300, n_features=10, n_informative=6, n_classes=3,
                               random_state=0)
    return StandardScaler().fit_transform(X), y
