"""Calibrators: a judge's raw probability in, a calibrated probability out. A registry.

The input is the judge's probability that response A is better (``Result.probability``:
the Beta-posterior mean of the votes, or the verdict probability with 'prob_weighted').

- ``beta``: the identity on that posterior mean, the uncalibrated baseline.
- ``temperature``: ``sigmoid(logit(p) / T)``, one parameter fitted by log-loss with
  ``scipy.optimize.minimize_scalar`` (Guo et al. 2017, "On Calibration of Modern Neural
  Networks").
- ``platt``: ``sigmoid(a * logit(p) + b)``, two parameters by log-loss (Platt 1999).
- ``isotonic``: the monotone step function closest to the outcomes in squared error
  (Zadrozny and Elkan 2002), from ``scipy.optimize.isotonic_regression``; between the fitted
  points it interpolates linearly, and it is clipped away from 0 and 1.

Each saves to and loads from a small JSON file.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
from grm.calibration.metrics import _arrays, calibration_summary

from grm.registry import Registry

#: Probabilities are kept in [CLIP, 1 - CLIP] so logits and log-losses stay finite.
CLIP = 1e-4
#: File name of a calibrator saved beside a model.
CALIBRATOR_FILE = "grm_calibration.json"


def logit(p: np.ndarray) -> np.ndarray:
    """``log(p / (1 - p))`` with p clipped to [CLIP, 1 - CLIP]."""
    q = np.clip(np.asarray(p, dtype=float), CLIP, 1 - CLIP)
    return np.log(q / (1 - q))


def _nll(z: np.ndarray, y: np.ndarray) -> float:
    """Mean log-loss of logits z: ``mean(log(1 + e^z) - y z)``."""
    return float(np.mean(np.logaddexp(0.0, z) - y * z))


class Calibrator:
    """Base class: ``fit(probs, labels)`` then ``predict(probs)``; JSON round trip."""

    name: ClassVar[str]

    def fit(self, probs: Sequence[float], labels: Sequence[float]) -> Calibrator:
        p, y = _arrays(probs, labels)
        if p.size == 0:
            raise ValueError("cannot fit a calibrator on no items; evaluate more pairs first.")
        self._fit(p, y)
        return self

    def _fit(self, p: np.ndarray, y: np.ndarray) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    def predict(self, probs: Sequence[float] | np.ndarray) -> np.ndarray:
        raise NotImplementedError  # pragma: no cover

    def __call__(self, p: float) -> float:
        return float(self.predict(np.array([p]))[0])

    def params(self) -> dict[str, Any]:
        return {}

    def set_params(self, params: dict[str, Any]) -> None:
        pass

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "params": self.params()}


CALIBRATORS: Registry[type[Calibrator]] = Registry("calibrator")


def register_calibrator(
    name: str, replace: bool = False
) -> Callable[[type[Calibrator]], type[Calibrator]]:
    def wrap(cls: type[Calibrator]) -> type[Calibrator]:
        CALIBRATORS.register(name, cls, replace=replace)
        cls.name = name
        return cls

    return wrap


def calibrator_names() -> list[str]:
    return CALIBRATORS.names()


def get_calibrator(name: str) -> Calibrator:
    """A fresh, unfitted calibrator by registry name."""
    return CALIBRATORS.get(name)()


@register_calibrator("beta")
class BetaPosterior(Calibrator):
    """The uncalibrated baseline: the Beta-posterior mean of the votes, unchanged."""

    def _fit(self, p: np.ndarray, y: np.ndarray) -> None:
        pass

    def predict(self, probs: Sequence[float] | np.ndarray) -> np.ndarray:
        return np.asarray(probs, dtype=float)


@register_calibrator("temperature")
class Temperature(Calibrator):
    """``sigmoid(logit(p) / T)``; T > 1 softens an over-confident judge."""

    def __init__(self, temperature: float = 1.0) -> None:
        self.temperature = temperature

    def _fit(self, p: np.ndarray, y: np.ndarray) -> None:
        from scipy import optimize  # scipy is imported where it is used: `grm --help` skips it

        z = logit(p)
        # Search log T so T stays positive; T in [e^-5, e^5] covers any sane judge.
        res = optimize.minimize_scalar(
            lambda log_t: _nll(z / np.exp(log_t), y), bounds=(-5.0, 5.0), method="bounded"
        )
        self.temperature = float(np.exp(res.x))

    def predict(self, probs: Sequence[float] | np.ndarray) -> np.ndarray:
        from scipy import special

        return np.asarray(special.expit(logit(np.asarray(probs)) / self.temperature))

    def params(self) -> dict[str, Any]:
        return {"temperature": self.temperature}

    def set_params(self, params: dict[str, Any]) -> None:
        self.temperature = float(params["temperature"])


@register_calibrator("platt")
class Platt(Calibrator):
    """``sigmoid(a * logit(p) + b)``: a slope (1 / temperature) and a bias."""

    def __init__(self, a: float = 1.0, b: float = 0.0) -> None:
        self.a, self.b = a, b

    def _fit(self, p: np.ndarray, y: np.ndarray) -> None:
        from scipy import optimize, special

        z = logit(p)

        def loss(theta: np.ndarray) -> tuple[float, np.ndarray]:
            s = theta[0] * z + theta[1]
            r = special.expit(s) - y
            return _nll(s, y), np.array([np.mean(r * z), np.mean(r)])

        res = optimize.minimize(loss, np.array([1.0, 0.0]), jac=True, method="L-BFGS-B")
        self.a, self.b = float(res.x[0]), float(res.x[1])

    def predict(self, probs: Sequence[float] | np.ndarray) -> np.ndarray:
        from scipy import special

        return np.asarray(special.expit(self.a * logit(np.asarray(probs)) + self.b))

    def params(self) -> dict[str, Any]:
        return {"a": self.a, "b": self.b}

    def set_params(self, params: dict[str, Any]) -> None:
        self.a, self.b = float(params["a"]), float(params["b"])


@register_calibrator("isotonic")
class Isotonic(Calibrator):
    """Monotone non-decreasing map fitted by isotonic regression, linear between points."""

    def __init__(self) -> None:
        self.x: list[float] = [0.0, 1.0]
        self.y: list[float] = [0.0, 1.0]

    def _fit(self, p: np.ndarray, y: np.ndarray) -> None:
        from scipy import optimize

        order = np.argsort(p, kind="stable")
        xs, ys = p[order], y[order]
        # Pool equal inputs first: isotonic regression needs one target per distinct x.
        ux, inverse = np.unique(xs, return_inverse=True)
        weights = np.bincount(inverse).astype(float)
        means = np.bincount(inverse, weights=ys) / weights
        fitted = optimize.isotonic_regression(means, weights=weights, increasing=True).x
        self.x = [float(v) for v in ux]
        self.y = [float(v) for v in fitted]

    def predict(self, probs: Sequence[float] | np.ndarray) -> np.ndarray:
        out = np.interp(np.asarray(probs, dtype=float), self.x, self.y)
        return np.clip(out, CLIP, 1 - CLIP)

    def params(self) -> dict[str, Any]:
        return {"x": self.x, "y": self.y}

    def set_params(self, params: dict[str, Any]) -> None:
        self.x = [float(v) for v in params["x"]]
        self.y = [float(v) for v in params["y"]]


def calibrator_from_dict(data: dict[str, Any]) -> Calibrator:
    cal = get_calibrator(str(data.get("name")))
    cal.set_params(dict(data.get("params", {})))
    return cal


def save_calibrator(cal: Calibrator, path: str | Path, meta: dict[str, Any] | None = None) -> Path:
    """Write the calibrator (and optional metadata: CV metrics, k, source report) as JSON."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({**cal.to_dict(), "meta": meta or {}}, indent=2))
    return path


def load_calibrator(path: str | Path) -> Calibrator:
    """Read a calibrator written by :func:`save_calibrator`."""
    path = Path(path)
    try:
        data = json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path} is not a calibrator JSON file ({exc}).") from None
    if not isinstance(data, dict) or "name" not in data:
        raise ValueError(f"{path} has no calibrator 'name'; write it with grm calibrate.")
    return calibrator_from_dict(data)


def cross_validate(
    name: str, probs: Sequence[float], labels: Sequence[float], folds: int = 5, seed: int = 0
) -> dict[str, Any]:
    """K-fold cross-validation: fit on k-1 folds, predict the held-out fold.

    Returns the out-of-fold predictions and the metrics of the raw probabilities and of the
    held-out calibrated ones (so "after" is never measured on the data it was fitted to).
    """
    p, y = _arrays(probs, labels)
    if folds < 2 or folds > p.size:
        raise ValueError(f"folds must be in [2, {p.size}] (the number of items), got {folds}.")
    rng = np.random.default_rng(seed)
    fold_of = rng.permutation(np.arange(p.size) % folds)
    oof = np.empty_like(p)
    for f in range(folds):
        test = fold_of == f
        cal = get_calibrator(name).fit(p[~test], y[~test])
        oof[test] = cal.predict(p[test])
    return {
        "calibrator": name,
        "folds": folds,
        "before": calibration_summary(p.tolist(), y.tolist()),
        "after": calibration_summary(oof.tolist(), y.tolist()),
        "oof": oof.tolist(),
    }
