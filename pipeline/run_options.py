"""The `runs.options` column: the options the user gave and newsbeam's effective settings, as one JSON object.

    {"given":    the command-line options as the user gave them (newsbeam's and Beam's, defaults left out),
     "newsbeam": the settings the run used: output, inputs, their format and the sources, incremental or not, worker and cleaning processes,
                 input size cap and the clean / copies / stories (and, when fetching, fetch) configs in full,
     "runner":   the Beam runner}

Beam's own defaults (some 180 options nobody set) are left out: a run is reproduced from `given`, and
`newsbeam` says what the defaults were when it ran.
"""
from __future__ import annotations

import dataclasses
import json

from apache_beam.options.pipeline_options import PipelineOptions, StandardOptions

from pipeline.plan import RunPlan


def given_options(options: PipelineOptions) -> dict:
    """The options on the command line, defaults left out. Parsed again from the original flags, because newsbeam
    sets some options itself while it runs (direct_num_workers for its worker processes)."""
    flags = getattr(options, "_flags", None)
    source = PipelineOptions(flags) if flags is not None else options
    return source.get_all_options(drop_default=True, retain_unknown_options=True)


def effective_settings(plan: RunPlan) -> dict:
    """newsbeam's settings for the run of `plan`, defaults included."""
    s = plan.settings
    settings = {
        "run_id": s.run_id,
        "output": s.output,
        "inputs": list(s.inputs),
        "input_format": s.input_format,
        "feeds": list(s.sources.feeds),
        "urls": list(s.sources.urls),
        "sitemaps": list(s.sources.sitemaps),
        "incremental": s.incremental,
        "workers_requested": s.workers,
        "worker_processes": plan.workers,  # Beam worker processes (1: in process; 0: the runner decides)
        "cleaning_processes": s.clean.clean_processes,  # HTML cleaning children per worker (also in "clean")
        "max_input_bytes": s.max_input_bytes,
        "clean": dataclasses.asdict(s.clean),
        "copies": dataclasses.asdict(s.copies),
        "stories": dataclasses.asdict(s.stories),
    }
    if s.sources:
        settings["fetch"] = dataclasses.asdict(s.fetch)
    return settings


def options_json(options: PipelineOptions, plan: RunPlan) -> str:
    """The `runs.options` value of a run."""
    runner = options.view_as(StandardOptions).runner
    runner_name = runner if isinstance(runner, str) or runner is None else type(runner).__name__
    row = {"given": given_options(options), "newsbeam": effective_settings(plan), "runner": runner_name or "DirectRunner"}
    return json.dumps(row, default=str, sort_keys=True)
