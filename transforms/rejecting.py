"""Emitting a reject from a DoFn: the one tagged output every stage uses, with its counter, and the rule that
judges every record alone (whatever one record raises becomes that record's reject, never a failed run)."""
from __future__ import annotations

import functools
import posixpath
import traceback
from collections.abc import Callable

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


def internal_error_detail(exc: BaseException) -> str:
    """What a bug's reject says: the exception type and message, and the traceback's last line (where it was raised)."""
    detail = f"{type(exc).__name__}: {exc}"
    frames = traceback.extract_tb(exc.__traceback__)
    if frames:
        last = frames[-1]
        detail += f" (at {posixpath.basename(last.filename)}:{last.lineno} in {last.name}: {(last.line or '').strip()})"
    return detail


def reject_for(exc: Exception, source_uri: str, input_id: str | None, stage: Stage) -> Reject:
    """The Reject an exception raised while handling one record becomes: the reason of a RejectError, else
    `internal_error` (a bug: the record is still accounted for, and the run's exit status says so)."""
    if isinstance(exc, RejectError):
        return Reject.from_error(source_uri, input_id, stage, exc)
    return Reject.of(source_uri, input_id, stage, Reason.INTERNAL_ERROR, internal_error_detail(exc))


def one_record(stage: Stage, identify: Callable[[object], tuple[str, str | None]]):
    """Decorator for the `process(self, element, ...)` of a DoFn that handles one record: its outputs, or, when
    handling it raises anything, exactly one reject (see reject_for) naming it by `identify(element)` ->
    (source_uri, input_id). The outputs are collected first, so a record that fails half-way leaves nothing
    but its reject. Not for a DoFn whose element holds many records (a file of JSON lines): judge those one
    by one with reject_for."""

    def decorate(process):
        @functools.wraps(process)
        def judged(self, element, *args, **kwargs):
            try:
                outputs = list(process(self, element, *args, **kwargs) or ())
            except Exception as exc:  # every failure of one record becomes its reject, bugs included
                source_uri, input_id = identify(element)
                yield emit(reject_for(exc, source_uri, input_id, stage))
                return
            yield from outputs

        return judged

    return decorate
