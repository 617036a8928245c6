"""Progress logging passes every element through and reports a running count."""
import logging

import apache_beam as beam
from apache_beam.testing.test_pipeline import TestPipeline
from apache_beam.testing.util import assert_that, equal_to

from transforms.progress import LOGGER, ProgressFn, ReportProgress


def test_report_progress_is_a_pass_through():
    with TestPipeline() as p:
        out = p | beam.Create(list(range(50))) | ReportProgress("things", every_s=0.0)
        assert_that(out, equal_to(list(range(50))))


def test_progress_fn_logs_counts(caplog):
    fn = ProgressFn("things", every_s=0.0)
    fn.setup()
    with caplog.at_level(logging.INFO, logger=LOGGER):
        for i in range(3):
            assert list(fn.process(i)) == [i]
    counts = [r.getMessage().split(":")[1].split()[0] for r in caplog.records if r.name == LOGGER]
    assert counts == ["1", "2", "3"]
