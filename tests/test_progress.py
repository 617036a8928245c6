"""Progress: counting DoFns report running counts; the driver's board sums them (in-process or relayed from worker
processes), takes them out of the log, and shows a live line on a terminal or a log line every N seconds."""
import io
import logging

import apache_beam as beam
from apache_beam.testing.test_pipeline import TestPipeline
from apache_beam.testing.util import assert_that, equal_to

from pipeline import local
from transforms.progress import (
    CLEANED,
    LOG_SOURCE,
    LOGGER,
    READ,
    WRITTEN,
    CountProgress,
    ProgressBoard,
    ProgressFn,
    ReportProgress,
    expected_inputs,
    parse_progress,
    progress_board,
    progress_message,
)


class Clock:
    def __init__(self):
        self.now = 100.0

    def __call__(self):
        return self.now


def test_report_progress_is_a_pass_through_and_count_progress_outputs_nothing():
    with TestPipeline() as p:
        items = p | beam.Create(list(range(50)))
        assert_that(items | ReportProgress(READ, every_s=0.0), equal_to(list(range(50))), label="PassedThrough")
        assert_that(items | CountProgress(WRITTEN, every_s=0.0), equal_to([]), label="NothingOut")


def test_progress_fn_logs_parseable_running_counts(caplog):
    fn = ProgressFn(READ, every_s=0.0)
    fn.setup()
    with caplog.at_level(logging.INFO, logger=LOGGER):
        for i in range(3):
            assert list(fn.process(i)) == [i]
        fn.finish_bundle()  # nothing new since the last line: no line
    parsed = [parse_progress(r.getMessage()) for r in caplog.records if r.name == LOGGER]
    assert [(stage, n) for stage, _, n in parsed] == [(READ, 1), (READ, 2), (READ, 3)]
    assert len({instance for _, instance, _ in parsed}) == 1


def test_progress_fn_reports_the_last_count_at_the_end_of_a_bundle(caplog):
    fn = ProgressFn(CLEANED, every_s=3600.0)
    fn.setup()
    with caplog.at_level(logging.INFO, logger=LOGGER):
        for i in range(5):
            list(fn.process(i))
        fn.finish_bundle()
    assert [parse_progress(r.getMessage())[2] for r in caplog.records if r.name == LOGGER] == [5]


def record(message: str) -> logging.LogRecord:
    return logging.LogRecord(LOGGER, logging.INFO, __file__, 1, message, (), None)


def test_board_sums_instances_per_stage_and_drops_their_lines():
    clock = Clock()
    board = ProgressBoard(io.StringIO(), total=200, live=False, clock=clock)
    assert board.filter(record(progress_message(READ, "11.a", 30))) is False
    assert board.filter(record(progress_message(READ, "12.b", 20))) is False
    assert board.filter(record(progress_message(READ, "11.a", 50))) is False  # the latest count of an instance wins
    assert board.filter(record(progress_message(CLEANED, "11.c", 10))) is False
    assert board.filter(record("fetch: 3 fetched, 0 failed")) is True  # other lines pass
    assert board.totals() == {READ: 70, CLEANED: 10, WRITTEN: 0}
    clock.now += 10
    line = board.line()
    assert line.startswith("read 70/200 · cleaned 10 · written 0 · 7.0/s")
    assert "ETA 0:18" in line  # 130 left at 7.0/s: 18.6 s


def test_board_on_a_terminal_rewrites_one_line_and_clears_it():
    clock = Clock()
    out = io.StringIO()
    board = ProgressBoard(out, total=None, live=True, quiet_s=3.0, clock=clock)
    board.filter(record(progress_message(READ, "1.a", 5)))
    board.tick()
    assert out.getvalue() == ""  # a run shorter than quiet_s shows nothing
    clock.now += 5
    board.tick()
    board.tick()
    assert out.getvalue().count("\r") == 2 and "\n" not in out.getvalue() and "ETA" not in out.getvalue()
    board.filter(record("a warning"))  # another log line: the live line makes room first
    assert out.getvalue().endswith("\r\x1b[K")


def test_board_in_logs_writes_a_line_every_n_seconds(caplog):
    clock = Clock()
    board = ProgressBoard(io.StringIO(), live=False, every_s=10.0, quiet_s=0.0, clock=clock)
    with caplog.at_level(logging.INFO, logger=LOGGER):
        for _ in range(25):  # 25 ticks, one a second
            clock.now += 1
            board.tick()
        board.finish()
    lines = [r.getMessage() for r in caplog.records if r.getMessage().startswith("progress:")]
    assert len(lines) == 3 and lines[-1].endswith("(done)")


def test_worker_progress_relayed_by_beam_reaches_the_board():
    """A worker process's progress line arrives as a relayed log entry; the relay re-logs it on the newsbeam logger,
    where the board counts it and keeps it out of the log."""
    with progress_board(io.StringIO(), live=False) as board:
        relay = local.WorkerLogRelay(LOGGER, LOG_SOURCE)
        message = (f'Worker: severity: INFO timestamp {{ seconds: 1 }} message: "{progress_message(READ, "4242.ab", 17)}" '
                   f'log_location: "/site/{LOG_SOURCE}:80" thread: "7"')
        assert relay.filter(logging.LogRecord(local.RELAY_LOGGER, logging.INFO, __file__, 1, message, (), None)) is False
        assert board.totals()[READ] == 17


def test_expected_inputs_only_when_each_file_is_one_article():
    assert expected_inputs(["a.html", "b.txt", "c.html.gz"]) == 3
    assert expected_inputs(["a.html", "feed.jsonl.gz"]) is None
    assert expected_inputs([]) is None
