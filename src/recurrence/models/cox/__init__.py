"""Cox proportional-hazards models: counting-process engine, recurrent events, frailty, tests."""

from recurrence.models.cox.model import CoxResults, coxph

__all__ = ["CoxResults", "coxph"]
