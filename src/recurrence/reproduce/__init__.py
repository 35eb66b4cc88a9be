"""One command from data to report: the reproduction pipeline and its HTML report.

:func:`recurrence.reproduce.pipeline.run_pipeline` runs the analysis scripts in ``analyses/``
(synthetic cohort, analysis tables and calibration, models, reported effects, NI 65 validity,
real LA data), caches each step on the hashes of its inputs, checks every output against the
disclosure rules of :mod:`recurrence.sdc`, and renders one self-contained HTML report with a
colophon (:mod:`recurrence.reproduce.report`). The command line is ``recurrence reproduce``.
"""

from recurrence.reproduce.pipeline import (
    PROFILES,
    PipelineResult,
    StepContext,
    StepSkipped,
    run_pipeline,
)

__all__ = ["PROFILES", "PipelineResult", "StepContext", "StepSkipped", "run_pipeline"]
