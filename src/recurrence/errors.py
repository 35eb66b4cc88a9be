"""Exceptions that the command line turns into one clear line and a non-zero exit."""

from __future__ import annotations


class RecurrenceError(Exception):
    """Base class of the package's user-facing errors."""


class InputFileError(RecurrenceError):
    """A whole input file is unusable (not XML, malformed, wrong root, DTD or entities, ...).

    The message names the file and the problem on one line. Readers raise it before writing any
    output, so a failed read never leaves partial files.
    """

    def __init__(self, path: str, problem: str) -> None:
        self.path = str(path)
        self.problem = problem
        super().__init__(f"{self.path}: {problem}")


class ModelInputError(RecurrenceError, ValueError):
    """Data given to a model cannot be fitted as it stands (bad intervals, NaN, singular design...)."""


class ConvergenceError(RecurrenceError, RuntimeError):
    """An iterative fit did not converge; the message says the iterations used and the remedy."""


class SeparationError(ModelInputError):
    """Complete or quasi-complete separation in a logistic fit; the message names the term."""


class OptionError(RecurrenceError, ValueError):
    """An option or argument value is not one of those allowed (a runtime ``Literal`` check)."""
