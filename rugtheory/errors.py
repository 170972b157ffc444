"""The one error type of rugtheory."""

from __future__ import annotations

__all__ = ["ParameterError"]


class ParameterError(ValueError):
    """A parameter is outside its domain, NaN, or of the wrong kind.

    The message is one line that names the parameter and its valid range, so the
    CLI can print it as it is (exit code 2) and Python callers can catch ValueError.
    """
