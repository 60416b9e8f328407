"""Power laws fitted in log-log space, with a confidence interval on the exponent.

The interval is the textbook one for a least-squares slope: the slope's standard error from the
residuals (n - 2 degrees of freedom) times Student's t quantile. With five or six sizes the t
quantile matters (t = 3.18 at 3 degrees of freedom against the normal 1.96); SciPy is not a
dependency, so the quantile comes from integrating the t density here.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

CONFIDENCE = 0.95
_T_GRID = np.linspace(0.0, 400.0, 800_001)  # covers t's 0.995 quantile even at 1 degree


@lru_cache(maxsize=64)  # an 800,001-point integral: fits ask for the same few quantiles
def student_t_quantile(probability: float, dof: int) -> float:
    """The value t with P(T <= t) = probability, for Student's t with `dof` degrees (p > 0.5)."""
    if not 0.5 <= probability < 1.0 or dof < 1:
        raise ValueError("student_t_quantile needs 0.5 <= probability < 1 and dof >= 1")
    log_norm = math.lgamma((dof + 1) / 2) - math.lgamma(dof / 2) - 0.5 * math.log(dof * math.pi)
    density = np.exp(log_norm - (dof + 1) / 2 * np.log1p(_T_GRID**2 / dof))
    steps = np.diff(_T_GRID) * (density[1:] + density[:-1]) / 2  # trapezoids
    cdf = 0.5 + np.concatenate([[0.0], np.cumsum(steps)])
    if probability > cdf[-1]:
        raise ValueError(f"the {probability} quantile at {dof} degrees lies beyond the grid")
    return float(np.interp(probability, cdf, _T_GRID))


@dataclass(frozen=True)
class PowerLaw:
    """y = coefficient * x ** -exponent, fitted by least squares in log-log space.

    exponent_stderr is None when there are too few points (two or fewer) to estimate it.
    """

    coefficient: float
    exponent: float
    r_squared: float
    points: int = 0
    exponent_stderr: float | None = None

    def __call__(self, x: np.ndarray) -> np.ndarray:
        return self.coefficient * np.power(x, -self.exponent)

    def exponent_interval(self, confidence: float = CONFIDENCE) -> tuple[float, float] | None:
        """The exponent's two-sided Student-t interval, or None without a standard error."""
        if self.exponent_stderr is None:
            return None
        half = student_t_quantile((1 + confidence) / 2, self.points - 2) * self.exponent_stderr
        return self.exponent - half, self.exponent + half

    def describe_exponent(self, confidence: float = CONFIDENCE) -> str:
        interval = self.exponent_interval(confidence)
        if interval is None:
            return f"{self.exponent:.4f} (no interval from {self.points} points)"
        low, high = interval
        return (
            f"{self.exponent:.4f} ({confidence:.0%} CI {low:.4f} to {high:.4f}, "
            f"standard error {self.exponent_stderr:.4f}, {self.points} points)"
        )


def fit_power_law(x: np.ndarray, y: np.ndarray) -> PowerLaw:
    log_x, log_y = np.log(np.asarray(x, float)), np.log(np.asarray(y, float))
    slope, intercept = np.polyfit(log_x, log_y, 1)
    residual = log_y - (slope * log_x + intercept)
    spread = float(((log_y - log_y.mean()) ** 2).sum())
    r_squared = 1.0 - float((residual**2).sum()) / spread if spread else 1.0
    points = len(log_x)
    stderr = None
    if points > 2:
        residual_variance = float((residual**2).sum()) / (points - 2)
        stderr = math.sqrt(residual_variance / float(((log_x - log_x.mean()) ** 2).sum()))
    return PowerLaw(float(np.exp(intercept)), float(-slope), r_squared, points, stderr)
