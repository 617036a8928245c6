"""Progress on long runs: a pass-through DoFn that logs a running count at most every few seconds."""
from __future__ import annotations

import logging
import os
import time

import apache_beam as beam

LOGGER = "newsbeam"
# How this module's log records are located in a worker's relayed log entries (pipeline/local.py matches it):
# derived from the module name, so moving the file moves it too.
LOG_SOURCE = os.path.join(*__name__.split(".")) + ".py"


class ProgressFn(beam.DoFn):
    """Passes elements through unchanged; logs '<label>: N so far (R/s)' per worker at most every `every_s` seconds."""

    def __init__(self, label: str, every_s: float = 30.0):
        self.label = label
        self.every_s = every_s

    def setup(self):
        self.log = logging.getLogger(LOGGER)
        self.count = 0
        self.start = self.last = time.monotonic()

    def process(self, element):
        self.count += 1
        now = time.monotonic()
        if now - self.last >= self.every_s:
            self.last = now
            self.log.info("%s: %d so far (%.1f/s)", self.label, self.count, self.count / (now - self.start))
        yield element

    def teardown(self):
        if self.count and time.monotonic() - self.start >= self.every_s:
            self.log.info("%s: %d done", self.label, self.count)


class ReportProgress(beam.PTransform):
    """PCollection[T] -> the same PCollection[T], with throttled progress logging."""

    def __init__(self, label: str, every_s: float = 30.0):
        super().__init__()
        self.label_text = label
        self.every_s = every_s

    def expand(self, pcoll):
        return pcoll | beam.ParDo(ProgressFn(self.label_text, self.every_s))
