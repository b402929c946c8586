"""Input checks shared by every helper.

Each check raises a ``ValueError`` (or ``TypeError`` for the wrong kind of
object) whose message starts with the parameter's name, so a reader who passes
bad input to a helper in a notebook sees at once which argument is wrong.
"""

from __future__ import annotations

import numbers

import numpy as np


def positive_int(name: str, value) -> int:
    """Return ``value`` as an ``int`` if it is a whole number >= 1."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        if isinstance(value, float) and value.is_integer() and value >= 1:
            return int(value)
        raise TypeError(f"{name} must be a positive integer, got {value!r}")
    if value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return int(value)


def finite_float(name: str, value, *, positive: bool = False, nonneg: bool = False) -> float:
    """Return ``value`` as a finite ``float``; optionally require > 0 or >= 0."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number, got {value!r}")
    value = float(value)
    if not np.isfinite(value):
        raise ValueError(f"{name} must be finite, got {value!r}")
    if positive and value <= 0:
        raise ValueError(f"{name} must be > 0, got {value!r}")
    if nonneg and value < 0:
        raise ValueError(f"{name} must be >= 0, got {value!r}")
    return value


def in_range(name: str, value, low: float, high: float) -> float:
    """Return ``value`` as a float in the closed interval [low, high]."""
    value = finite_float(name, value)
    if not low <= value <= high:
        raise ValueError(f"{name} must lie in [{low}, {high}], got {value!r}")
    return value


def finite_array(name: str, value, *, ndim_min: int = 1, allow_empty: bool = False) -> np.ndarray:
    """Return ``value`` as a float array that is finite and has enough axes."""
    try:
        arr = np.asarray(value)
    except Exception as exc:  # ragged lists and the like
        raise ValueError(f"{name} must be array-like: {exc}") from exc
    if arr.dtype == object or not (
        np.issubdtype(arr.dtype, np.floating)
        or np.issubdtype(arr.dtype, np.integer)
        or np.issubdtype(arr.dtype, np.bool_)
    ):
        raise TypeError(f"{name} must hold real numbers, got dtype {arr.dtype}")
    if arr.ndim < ndim_min:
        raise ValueError(f"{name} must have at least {ndim_min} axis(es), got shape {arr.shape}")
    if arr.size == 0 and not allow_empty:
        raise ValueError(f"{name} must not be empty, got shape {arr.shape}")
    if arr.dtype.kind in "biu":
        arr = arr.astype(np.float64)
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} must contain only finite values (no NaN or inf)")
    return arr


def axis_index(name: str, axis, ndim: int) -> int:
    """Return ``axis`` normalised to a non-negative index for an array of ``ndim`` axes."""
    if isinstance(axis, bool) or not isinstance(axis, numbers.Integral):
        raise TypeError(f"{name} must be an integer, got {axis!r}")
    if not -ndim <= axis < ndim:
        raise ValueError(f"{name}={axis} is out of range for an array with {ndim} axes")
    return int(axis) % ndim


def positive_int_list(name: str, values) -> np.ndarray:
    """A non-empty sequence of positive integers, as an int array."""
    out = np.array([positive_int(name, x) for x in values], dtype=int)
    if out.size == 0:
        raise ValueError(f"{name} must not be empty")
    return out


def bool_mask(name: str, mask, shape: tuple) -> np.ndarray:
    """A boolean array broadcast to ``shape`` (True = keep)."""
    m = np.asarray(mask)
    if m.dtype != np.bool_:
        raise TypeError(f"{name} must be a boolean array, got dtype {m.dtype}")
    try:
        return np.broadcast_to(m, shape)
    except ValueError as exc:
        raise ValueError(f"{name} shape {m.shape} does not broadcast to {shape}") from exc
