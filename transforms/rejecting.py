"""Emitting a reject from a DoFn: the one tagged output every stage uses, with its counter."""
from __future__ import annotations

import apache_beam as beam
from apache_beam.metrics import Metrics

from schemas.rejects import Reason, Reject, RejectError, Stage

REJECTS = "rejects"  # the tagged output of every DoFn that can reject


def emit(reject: Reject) -> beam.pvalue.TaggedOutput:
    """`reject` on the rejects output, counted as `<stage>.rejected_<reason>` (counters mirror reason codes)."""
    Metrics.counter(reject.stage.value, "rejected_" + reject.reason.value).inc()
    return beam.pvalue.TaggedOutput(REJECTS, reject)


def reject(source_uri: str, input_id: str | None, stage: Stage, reason: Reason, detail: str) -> beam.pvalue.TaggedOutput:
    """A new Reject on the rejects output (see emit)."""
    return emit(Reject.of(source_uri, input_id, stage, reason, detail))


def reject_error(source_uri: str, input_id: str | None, stage: Stage, error: RejectError) -> beam.pvalue.TaggedOutput:
    """The Reject a caught RejectError names, on the rejects output (see emit)."""
    return emit(Reject.from_error(source_uri, input_id, stage, error))
