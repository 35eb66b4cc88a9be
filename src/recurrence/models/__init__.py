"""Models of recurrence: logistic and survival families with one results interface."""

from recurrence.models.base import TIDY_COLUMNS, ModelResults, RecurrenceModel

__all__ = ["TIDY_COLUMNS", "ModelResults", "RecurrenceModel"]
