"""Local worker processes (pipeline/local.py): choice of the worker count, the process runner, the log relay."""
import io
import logging
import os
import pathlib
import subprocess
import sys
import tempfile

import apache_beam as beam
import pytest
from apache_beam.options.pipeline_options import PipelineOptions

from pipeline import local
from pipeline.main import UsageError, run
from pipeline.sql import connect

ROOT = pathlib.Path(__file__).resolve().parent.parent
SEEDS = str(ROOT / "seeds")
MB = 1024 * 1024


@pytest.mark.parametrize(
    "requested,input_bytes,cpus,expected",
    [
        (0, 1 * MB, 4, 1),
        (0, local.AUTO_PARALLEL_BYTES, 4, 4),
        (0, 500 * MB, 1, 1),
        (3, 1, 8, 3),
        (1, 500 * MB, 8, 1),
    ],
    ids=["auto-small-input", "auto-large-input", "auto-one-core", "explicit-n", "explicit-one"],
)
def test_choose_workers(requested, input_bytes, cpus, expected):
    assert local.choose_workers(requested, input_bytes, cpus) == expected


@pytest.mark.parametrize(
    "argv,requested,input_bytes,expected",
    [
        ([], 1, 500 * MB, local.LocalWork(1, 1, 1)),
        ([], 2, 1, local.LocalWork(1, 2, 2 * local.PAGES_PER_CLEANER)),
        ([], 0, local.AUTO_PARALLEL_BYTES, local.LocalWork(1, 4, 4 * local.PAGES_PER_CLEANER)),
        ([], 0, 1 * MB, local.LocalWork(1, 1, 1)),
        (["--direct_running_mode=multi_processing"], 0, 1, local.LocalWork(4)),
        (["--direct_running_mode=multi_processing", "--direct_num_workers=3"], 0, 1, local.LocalWork(3)),
        (["--direct_running_mode=multi_processing"], 2, 1, local.LocalWork(2)),
        (["--direct_running_mode=multi_threading"], 0, 1, None),
        (["--runner=DataflowRunner"], 0, 1, None),
    ],
    ids=["one-core", "two-cores", "auto-large", "auto-small", "processes-per-cpu", "processes-given", "processes-by-workers",
         "threads", "other-runner"],
)
def test_local_work_says_what_each_setting_starts(argv, requested, input_bytes, expected):
    assert local.local_work(PipelineOptions(argv), requested, input_bytes, cpus=4) == expected


def test_choose_workers_rejects_negative():
    with pytest.raises(ValueError, match="--workers"):
        local.choose_workers(-1, 0, 2)


@pytest.mark.parametrize(
    "argv,expected",
    [
        ([], True),
        (["--runner=DirectRunner"], True),
        (["--direct_running_mode=multi_processing"], False),
        (["--direct_num_workers=2"], False),
        (["--runner=DataflowRunner"], False),
    ],
    ids=["default", "direct", "running-mode-given", "num-workers-given", "other-runner"],
)
def test_is_local_default(argv, expected):
    assert local.is_local_default(PipelineOptions(argv)) is expected


def test_relayed_entry_parses_beam_log_entries():
    msg = ('Worker: severity: INFO timestamp {   seconds: 1 } message: "articles: 5 so far (\\"fast\\")" '
           'log_location: "/x/transforms/progress.py:27" thread: "7"')
    assert local.relayed_entry(msg) == ('articles: 5 so far ("fast")', "/x/transforms/progress.py:27")
    assert local.relayed_entry("Worker: no entry here") is None
    assert local.relayed_entry("Job state changed") is None


def _record(level, message):
    return logging.LogRecord(local.RELAY_LOGGER, level, __file__, 1, message, None, None)


def test_relayed_entry_keeps_non_ascii_quotes_and_backslashes():
    from apache_beam.portability.api import beam_fn_api_pb2

    entry = beam_fn_api_pb2.LogEntry(message='café "naïve" 東京 \\ end', log_location="/x/transforms/progress.py:27")
    relayed = "Worker: " + str(entry).replace("\n", " ")  # how Beam's logging service relays it
    assert local.relayed_entry(relayed) == ('café "naïve" 東京 \\ end', "/x/transforms/progress.py:27")


def test_worker_log_relay_shows_progress_and_warnings_not_chatter():
    target = logging.getLogger("newsbeam-test-relay")
    target.setLevel(logging.INFO)
    target.propagate = False
    seen = []
    handler = logging.Handler()
    handler.emit = lambda r: seen.append(r.getMessage())
    target.addHandler(handler)
    relay = local.WorkerLogRelay("newsbeam-test-relay", "transforms/progress.py")
    progress = _record(logging.INFO, 'Worker: severity: INFO message: "read: 10 so far" log_location: "/a/transforms/progress.py:3"')
    assert relay.filter(progress) is False and seen == ["read: 10 so far"]
    chatter = _record(logging.INFO, 'Worker: severity: INFO message: "Logging handler created." log_location: "x.py:1"')
    assert relay.filter(chatter) is False
    noise = _record(logging.WARNING, 'Worker: severity: WARN message: "Discarding unparseable args: []" log_location: "o.py:1"')
    assert relay.filter(noise) is False
    real = _record(logging.WARNING, 'Worker: severity: WARN message: "disk almost full" log_location: "w.py:1"')
    assert relay.filter(real) is True and real.getMessage() == "worker: disk almost full"
    library = _record(logging.WARNING, 'Worker: severity: WARN message: "discarding data: None" '
                                       'log_location: "/v/site-packages/trafilatura/core.py:465"')
    assert relay.filter(library) is False
    own = _record(logging.WARNING, "Job failed")
    assert relay.filter(own) is True
    assert seen == ["read: 10 so far"]


def test_process_runner_runs_in_worker_processes_with_stderr_in_the_log(tmp_path):
    def where_am_i(x):  # nested, so it is pickled by value: the workers cannot import this test module
        print(f"stderr-of-worker-{x}", file=sys.stderr, flush=True)
        return os.getpid()

    log = tmp_path / "workers.log"
    options = PipelineOptions([])
    pids = tmp_path / "pids"
    with beam.Pipeline(runner=local.process_runner(options, 2, str(log)), options=options) as p:
        (p | beam.Create(list(range(6))) | beam.Map(where_am_i) | beam.Map(str)
         | beam.io.WriteToText(str(pids), shard_name_template=""))
    got = {int(x) for x in pids.read_text().split()}
    assert got and os.getpid() not in got
    assert "stderr-of-worker-" in log.read_text()


def test_in_process_run_leaves_no_temp_directory(tmp_path, monkeypatch):
    # The DirectRunner's Prism attempt leaves an empty beam-temp* folder in the temp dir on every run; newsbeam
    # builds the in-process runner itself instead.
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(tmp))
    row = run(["--input", SEEDS, "--output", str(tmp_path / "o"), "--workers", "1"], out=io.StringIO())
    assert row["article_count"] == 3
    assert sorted(p.name for p in tmp.iterdir()) == []


def test_workers_option_gives_the_same_result_as_in_process(tmp_path):
    printed = io.StringIO()
    run(["--input", SEEDS, "--output", str(tmp_path / "one"), "--workers", "1"], out=io.StringIO())
    row = run(["--input", SEEDS, "--output", str(tmp_path / "two"), "--workers", "2"], out=printed)
    assert "(in-process, 2 cleaning processes)" in printed.getvalue()
    procs = io.StringIO()
    run(["--input", SEEDS, "--output", str(tmp_path / "procs"), "--workers", "2", "--direct_running_mode=multi_processing"],
        out=procs)
    assert "(2 worker processes)" in procs.getvalue()
    q = "SELECT article_id, story_id, text FROM articles ORDER BY 1"
    one = connect(str(tmp_path / "one")).sql(q).fetchall()
    assert connect(str(tmp_path / "two")).sql(q).fetchall() == one
    assert connect(str(tmp_path / "procs")).sql(q).fetchall() == one
    assert row["article_count"] == 3
    assert not list(pathlib.Path(tempfile.gettempdir()).glob(f"newsbeam-{row['run_id']}-workers.log"))


@pytest.mark.parametrize(
    "extra,message",
    [(["--workers", "-2"], "--workers must be"), (["--workers", "2", "--direct_running_mode=multi_threading"], "default DirectRunner")],
    ids=["negative", "with-running-mode"],
)
def test_workers_usage_errors(tmp_path, extra, message):
    with pytest.raises(UsageError, match=message):
        run(["--input", SEEDS, "--output", str(tmp_path / "o"), *extra], out=io.StringIO())


def test_cli_with_workers_prints_no_worker_start_up_noise(tmp_path):
    res = subprocess.run([sys.executable, "-m", "pipeline", "run", "--input", SEEDS, "--output", str(tmp_path / "o"), "--workers", "2",
                          "--direct_running_mode", "multi_processing"],
                         cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr
    assert "inputs          3  = 3 articles + 0 rejects" in res.stdout
    for noise in ("Discarding unparseable args", "semi_persistent_directory", "Logging handler created", "apitools", "direct_running_mode"):
        assert noise not in res.stderr, res.stderr


def test_cached_dofn_specs_keep_beams_answers():
    from apache_beam.coders import StrUtf8Coder
    from apache_beam.transforms import userstate

    class Buffered(beam.DoFn):
        BUF = userstate.BagStateSpec("buf", StrUtf8Coder())

        def process(self, kv, buf=beam.DoFn.StateParam(BUF)):
            buf.add(kv[1])
            yield kv[0], sorted(buf.read())

    class Plain(beam.DoFn):
        def process(self, x):
            yield x

    local.cache_dofn_specs()
    local.cache_dofn_specs()  # idempotent: one cache, not a cache of a cache
    assert getattr(userstate.get_dofn_specs, "newsbeam_cached", False)
    for _ in range(2):  # the second answer comes from the cache
        assert userstate.is_stateful_dofn(Buffered())
        assert not userstate.is_stateful_dofn(Plain())
        assert not userstate.is_stateful_dofn(beam.Map(len).fn)
    states, _ = userstate.get_dofn_specs(Buffered())
    assert [s.name for s in states] == ["buf"]
    states.clear()  # callers get their own sets
    assert userstate.get_dofn_specs(Buffered())[0]
    # and a stateful DoFn still runs as one after the cache has answered for it
    options = PipelineOptions([])
    with beam.Pipeline(runner=local.in_process_runner(options), options=options) as p:
        got = p | beam.Create([("k", "a"), ("k", "b")]) | beam.ParDo(Buffered())
        from apache_beam.testing.util import assert_that, equal_to

        assert_that(got | beam.Map(lambda kv: len(kv[1])), equal_to([1, 2]))


def test_worker_command_sets_the_malloc_arenas_and_runs_beams_worker(tmp_path):
    cmd = local.worker_command(str(tmp_path / "w.log"))
    assert cmd.startswith("MALLOC_ARENA_MAX=2 ")
    assert "sdk_worker_main" in cmd and "lighten_beam(worker=True)" in cmd and cmd.endswith(f"2>>{tmp_path / 'w.log'}")


def test_option_views_are_made_once_and_stay_live():
    from apache_beam.options.pipeline_options import DirectOptions, StandardOptions

    local.cache_option_views()
    local.cache_option_views()
    options = PipelineOptions(["--direct_num_workers=3"])
    direct = options.view_as(DirectOptions)
    assert options.view_as(DirectOptions) is direct and direct.direct_num_workers == 3
    direct.direct_num_workers = 5  # a change through one view is seen through every view, as in Beam
    assert options.view_as(DirectOptions).direct_num_workers == 5
    assert options.view_as(StandardOptions).view_as(DirectOptions).direct_num_workers == 5
    assert PipelineOptions([]).view_as(DirectOptions).direct_num_workers in (None, 1)  # another object: its own views


def test_lightened_runs_keep_side_inputs_right(tmp_path):
    # No state cache: every bundle still reads its side inputs, in the driver and in worker processes.
    local.lighten_beam()
    for runner in ("in_process", "processes"):
        options = PipelineOptions([])
        r = local.in_process_runner(options) if runner == "in_process" else local.process_runner(options, 2, str(tmp_path / "w.log"))
        out = tmp_path / f"out-{runner}"
        with beam.Pipeline(runner=r, options=options) as p:
            words = p | "Words" >> beam.Create(["a", "bb", "ccc", "dd"])
            lengths = beam.pvalue.AsDict(words | "KeyByWord" >> beam.Map(lambda w: (w, len(w))))
            total = beam.pvalue.AsSingleton(words | "Len" >> beam.Map(len) | "Sum" >> beam.CombineGlobally(sum))
            (words | beam.Reshuffle() | beam.Map(lambda w, d, t: f"{w} {d[w]} {t}", lengths, total)
             | beam.io.WriteToText(str(out), shard_name_template=""))
        assert sorted(out.read_text().split("\n")[:-1]) == ["a 1 8", "bb 2 8", "ccc 3 8", "dd 2 8"]


def test_plain_beam_switch_leaves_beam_untouched():
    code = ("from apache_beam.transforms import userstate; from apache_beam.options.pipeline_options import PipelineOptions; "
            "before = (userstate.get_dofn_specs, PipelineOptions.view_as); from pipeline.local import lighten_beam; "
            "lighten_beam(); print((userstate.get_dofn_specs, PipelineOptions.view_as) == before)")
    got = {}
    for plain in ("1", "0"):
        env = {**os.environ, "NEWSBEAM_PLAIN_BEAM": plain, "PYTHONPATH": str(ROOT)}
        res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=ROOT, timeout=120)
        assert res.returncode == 0, res.stderr
        got[plain] = res.stdout.strip().splitlines()[-1]
    assert got == {"1": "True", "0": "False"}
