"""Local parallelism: run the DirectRunner's workers in separate processes when the input is large.

Beam's DirectRunner executes a batch pipeline in one Python process by default, so one core does
all the work. Its `multi_processing` mode starts SDK worker processes, as a distributed runner does,
but those workers print their start-up logging straight to the terminal. Here the same runner (the
FnApiRunner the DirectRunner uses for batch) starts the same worker command with its stderr appended
to a log file; the workers' log records still reach this process through Beam's logging service
(see `WorkerLogRelay`), so progress lines and warnings are shown and start-up noise is not.
"""
from __future__ import annotations

import contextlib
import dataclasses
import logging
import os
import re
import shlex
import sys

from apache_beam.options.pipeline_options import DirectOptions, PipelineOptions, StandardOptions

# Inputs of this many bytes or more (all files together) use one core per CPU by default: below it, starting the
# extra cleaning processes costs more than they give back (docs/profile.md has the measurements).
AUTO_PARALLEL_BYTES = 8 * 1024 * 1024
# Pages a cleaning process holds at once with --workers 2 and up: the one it cleans and the next, waiting in the pipe.
PAGES_PER_CLEANER = 2


def choose_workers(requested: int, input_bytes: int, cpus: int | None = None) -> int:
    """Cores for a local run: `requested` if > 0, else 1 for small inputs and one per CPU for large."""
    if requested < 0:
        raise ValueError(f"--workers must be 0 (automatic) or a positive number, got {requested}")
    if requested:
        return requested
    cpus = cpus or os.cpu_count() or 1
    return cpus if input_bytes >= AUTO_PARALLEL_BYTES else 1


@dataclasses.dataclass(frozen=True)
class LocalWork:
    """The processes of a local run: Beam worker processes (1: the pipeline runs in this process) and, for each,
    the HTML cleaning child processes and how many pages may be in flight to them (1: one page at a time)."""

    beam_workers: int
    clean_processes: int = 1
    clean_in_flight: int = 1


def local_work(options: PipelineOptions, requested: int, input_bytes: int, cpus: int | None = None) -> LocalWork | None:
    """What a run on this machine starts for `--workers requested` (0: automatic), or None when the options name
    another runner (it starts its own workers).

    - default DirectRunner, one core: the pipeline in this process, one cleaning child, one page at a time (the
      pipeline waits while the child cleans: one core busy at a time);
    - default DirectRunner, N >= 2 cores: the pipeline in this process and N cleaning children, PAGES_PER_CLEANER
      pages each in flight, so the children clean while this process reads, and passes earlier articles on;
    - `--direct_running_mode multi_processing`: N Beam worker processes (N = --workers, else
      --direct_num_workers when above 1, else one per CPU; with N = 1 the pipeline runs in this process), each
      cleaning in its own child one page at a time; every stage is spread over the workers (fetching, stories),
      at the cost of a Beam process (about 0.35 GB and 2.3 s of CPU to start) per worker."""
    if requested < 0:
        raise ValueError(f"--workers must be 0 (automatic) or a positive number, got {requested}")
    if not is_direct(options):
        if requested:
            raise ValueError("--workers applies to the DirectRunner; with --runner set that runner's own worker options instead")
        return None
    direct = options.view_as(DirectOptions)
    if direct.direct_running_mode == "multi_processing":
        workers = direct.direct_num_workers or 0
        return LocalWork(beam_workers=requested or (workers if workers > 1 else cpus or os.cpu_count() or 1))
    if not is_local_default(options):
        if requested:
            raise ValueError("--workers applies to the default DirectRunner and its multi_processing mode; with "
                             "--direct_running_mode multi_threading or --direct_num_workers set, use those instead")
        return None
    n = choose_workers(requested, input_bytes, cpus)
    if n == 1:
        return LocalWork(beam_workers=1)
    return LocalWork(beam_workers=1, clean_processes=n, clean_in_flight=PAGES_PER_CLEANER * n)


def is_local_default(options: PipelineOptions) -> bool:
    """True when the run uses the DirectRunner in its default (in-process) mode."""
    if not is_direct(options):
        return False
    direct = options.view_as(DirectOptions)
    return direct.direct_running_mode in (None, "in_memory") and direct.direct_num_workers in (None, 1)


def is_direct(options: PipelineOptions) -> bool:
    """True when the run uses the DirectRunner (the default)."""
    runner = options.view_as(StandardOptions).runner
    name = runner if isinstance(runner, str) or runner is None else type(runner).__name__
    return name in (None, "DirectRunner", "direct", "Direct")


# glibc gives every thread that allocates its own malloc arena (up to 8 per core); a worker runs bundles, gRPC
# and the state cache on many threads, and the arenas hold freed memory apart. Two arenas per worker process
# (and its cleaning child) keep its resident memory lower at no measurable CPU cost (docs/profile.md).
WORKER_ENV = {"MALLOC_ARENA_MAX": "2"}
# What a worker runs: Beam's SDK worker main, lightened as the driver is (see lighten_beam).
_WORKER_MAIN = ("import sys; from pipeline.local import lighten_beam; lighten_beam(worker=True); "
                "from apache_beam.runners.worker import sdk_worker_main; sdk_worker_main.main(sys.argv)")


def worker_command(log_path: str) -> str:
    """The shell command the runner starts per worker: Beam's SDK worker (with WORKER_ENV, lightened by
    lighten_beam), stderr appended to `log_path`."""
    env = " ".join(f"{k}={shlex.quote(v)}" for k, v in WORKER_ENV.items())
    return f"{env} {shlex.quote(sys.executable)} -c {shlex.quote(_WORKER_MAIN)} 2>>{shlex.quote(log_path)}"


def _spec_key(dofn):
    """What a DoFn's state and timer specs depend on: its class, and for Map/FlatMap/Filter the wrapped callable;
    None (not cached) for a DoFn with methods of its own instance."""
    from apache_beam.transforms.core import CallableWrapperDoFn

    if isinstance(dofn, CallableWrapperDoFn):
        return type(dofn), dofn._fn
    if any(callable(v) for v in vars(dofn).values()):
        return None
    return type(dofn), None


def cache_dofn_specs() -> None:
    """Remember Beam's `userstate.get_dofn_specs` per DoFn class (per wrapped callable for Map and kin).

    Beam asks for a DoFn's state and timer specs several times per transform while the graph is built and
    submitted, and again for every bundle; each time it runs `inspect.signature` over every method of the DoFn:
    some 45,000 calls and 0.5 s of CPU per run of newsbeam's ~350 transforms (docs/profile.md). The specs come
    from the methods' default arguments, which a class fixes; the answer is the same every time. Idempotent."""
    from apache_beam.transforms import userstate

    original = userstate.get_dofn_specs
    if getattr(original, "newsbeam_cached", False):
        return
    cache: dict = {}

    def get_dofn_specs(dofn):
        try:
            key = _spec_key(dofn)
            hit = cache.get(key) if key is not None else None
        except TypeError:  # an unhashable callable: not cached
            key = hit = None
        if hit is None:
            hit = original(dofn)
            if key is not None:
                cache[key] = hit
        states, timers = hit
        return set(states), set(timers)

    get_dofn_specs.newsbeam_cached = True
    userstate.get_dofn_specs = get_dofn_specs


def cache_option_views() -> None:
    """Give each PipelineOptions object one view per options class instead of a new one per `view_as` call.

    Beam calls `view_as` some 1,200 times per newsbeam run (three times per applied transform); each call
    builds an argparse parser of every registered option (~150) and parses the flags again: about 0.6 s of CPU
    per run. A view holds no values of its own (they live in the `_all_options` dict it shares with the object
    it was made from), so one made earlier is the same view; it is made again if the flags or that dict were
    replaced. Idempotent."""
    import weakref

    from apache_beam.options.pipeline_options import PipelineOptions

    original = PipelineOptions.view_as
    if getattr(original, "newsbeam_cached", False):
        return
    views: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()

    def view_as(self, cls):
        try:
            mine = views.setdefault(self, {})
        except TypeError:
            return original(self, cls)
        view = mine.get(cls)
        if view is None or view._flags is not self._flags or view._all_options is not self._all_options:
            view = mine[cls] = original(self, cls)
        return view

    view_as.newsbeam_cached = True
    view_as.__doc__ = original.__doc__
    PipelineOptions.view_as = view_as


def no_state_cache(worker: bool = False) -> None:
    """Turn off the SDK harness's cross-bundle state cache (in this process's embedded worker, or, with `worker`,
    in a worker process started by the runner).

    The FnApiRunner gives each stage one bundle per worker and every side input a key of its own consumer, so
    the cache is never read twice; but every value put in it is weighed with objsize, a walk over every object
    of the side input (the document frequencies, the component maps, the learned templates): 1.5 s of a 23 s
    profiled run on 300 pages, growing with the input. Without it a side input is read once per bundle, as it
    was, and no worker keeps a copy of it after the bundle."""
    if worker:
        from apache_beam.runners.worker import sdk_worker_main

        sdk_worker_main._get_state_cache_size_bytes = lambda options: 0
    else:
        from apache_beam.runners.portability.fn_api_runner import worker_handlers

        worker_handlers.STATE_CACHE_SIZE_MB = 0


def lighten_beam(worker: bool = False) -> None:
    """What newsbeam changes in Beam's own work for its local runs (measurements in docs/profile.md): the DoFn spec
    cache, one view per options class and no state cache. Nothing here changes what a pipeline computes. Each
    step reaches into Beam's internals: one a Beam version does not have is skipped (Beam then does its own
    work, slower), and NEWSBEAM_PLAIN_BEAM=1 skips them all."""
    if os.environ.get("NEWSBEAM_PLAIN_BEAM") == "1":
        return
    for step in (cache_dofn_specs, cache_option_views, lambda: no_state_cache(worker)):
        try:
            step()
        except (ImportError, AttributeError) as exc:
            logging.getLogger(__name__).debug("Beam speed-up skipped: %s", exc)


def in_process_runner(options: PipelineOptions):
    """The batch runner the DirectRunner ends up with for this pipeline, built directly.

    Left to itself, the DirectRunner first tries Prism: that attempt tries to download a binary, costs about
    0.4 s per run offline, and leaves an empty /tmp/beam-temp* directory behind each time (Beam 2.77).
    """
    from apache_beam.portability.api import beam_provision_api_pb2
    from apache_beam.runners.portability.fn_api_runner import fn_runner
    from apache_beam.runners.portability.portable_runner import JobServiceHandle

    lighten_beam()
    encoded = JobServiceHandle.encode_pipeline_options(options.get_all_options())
    info = fn_runner.ExtendedProvisionInfo(beam_provision_api_pb2.ProvisionInfo(pipeline_options=encoded))
    return fn_runner.FnApiRunner(provision_info=info)


def process_runner(options: PipelineOptions, workers: int, log_path: str):
    """A batch runner with `workers` SDK worker processes whose own stderr goes to `log_path`."""
    from apache_beam.runners.portability.fn_api_runner import FnApiRunner
    from apache_beam.transforms import environments

    direct = options.view_as(DirectOptions)
    direct.direct_num_workers = workers
    # With multi_processing named in the options the runner would start Beam's own worker command instead of ours.
    direct.direct_running_mode = "in_memory"
    lighten_beam()
    env = environments.SubprocessSDKEnvironment.from_command_string(command_string=worker_command(log_path))
    return FnApiRunner(default_environment=env)


# A worker's log entry as Beam's logging service relays it: 'Worker: <LogEntry in protobuf text format>'.
_ENTRY_MESSAGE = re.compile(r'\bmessage: "((?:[^"\\]|\\.)*)"')
_ENTRY_LOCATION = re.compile(r'\blog_location: "((?:[^"\\]|\\.)*)"')


def relayed_entry(message: str) -> tuple[str, str] | None:
    """(message, log location) of a relayed worker log entry, or None if `message` is not one."""
    if not message.startswith("Worker: "):
        return None
    m = _ENTRY_MESSAGE.search(message)
    if m is None:
        return None
    loc = _ENTRY_LOCATION.search(message)
    unescape = lambda s: s.encode("latin-1", "backslashreplace").decode("unicode_escape")  # noqa: E731
    return unescape(m.group(1)), (unescape(loc.group(1)) if loc else "")


# Worker start-up warnings that are not problems: options only the driver needs, Beam's optional
# Google Cloud clients, and a cache folder local workers do not have.
WORKER_NOISE = ("Discarding unparseable args", "apitools not found", "No semi_persistent_directory")
# The runner's advice to use its multi_processing mode, which is what process_runner does (with its own command).
RUNNER_NOISE = ("direct_running_mode should be",)
# Extraction libraries warn per page ("discarding data"); the page's reject row already says why.
LIBRARY_LOGGERS = ("trafilatura", "htmldate", "courlan", "justext")
RUNNER_LOGGER = "apache_beam.runners.portability.fn_api_runner.fn_runner"
RELAY_LOGGER = "apache_beam.runners.portability.local_job_service"


class DropMessages(logging.Filter):
    def __init__(self, needles: tuple[str, ...]):
        super().__init__()
        self.needles = needles

    def filter(self, record):
        message = record.getMessage()
        return not any(n in message for n in self.needles)


class WorkerLogRelay(logging.Filter):
    """On Beam's relay logger: newsbeam's own worker lines (progress) are re-logged on `target` as plain lines;
    other worker records pass at WARNING and above with just their message; INFO chatter and start-up
    noise are dropped."""

    def __init__(self, target: str, own_location: str):
        super().__init__()
        self.target = target
        self.own_location = own_location

    def filter(self, record):
        entry = relayed_entry(record.getMessage())
        if entry is None:
            return record.levelno >= logging.WARNING
        message, location = entry
        if any(n in message for n in WORKER_NOISE):
            return False
        if record.levelno < logging.ERROR and any(f"{os.sep}{lib}{os.sep}" in location for lib in LIBRARY_LOGGERS):
            return False
        if self.own_location in location:
            logging.getLogger(self.target).info(message)
            return False
        if record.levelno < logging.WARNING:
            return False
        record.msg, record.args = "worker: %s", (message,)
        return True


@contextlib.contextmanager
def relayed_worker_logs(target: str, own_location: str):
    """While a process-worker run lasts: show newsbeam's own worker log lines and real warnings, not start-up chatter."""
    relay_logger, runner_logger = logging.getLogger(RELAY_LOGGER), logging.getLogger(RUNNER_LOGGER)
    relay, quiet = WorkerLogRelay(target, own_location), DropMessages(RUNNER_NOISE)
    level = relay_logger.level
    relay_logger.setLevel(logging.INFO)  # worker INFO records (progress) are relayed at INFO
    relay_logger.addFilter(relay)
    runner_logger.addFilter(quiet)
    try:
        yield
    finally:
        relay_logger.removeFilter(relay)
        runner_logger.removeFilter(quiet)
        relay_logger.setLevel(level)
