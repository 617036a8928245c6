"""Run options: what changes per run. Beam's own options (--runner, ...) pass through unchanged."""
from __future__ import annotations

import argparse

from apache_beam.options.pipeline_options import PipelineOptions

from transforms.boilerplate import CleanConfig
from transforms.dedup import DedupConfig
from transforms.read import DEFAULT_MAX_BYTES
from transforms.stories import StoryConfig


class NewsbeamOptions(PipelineOptions):
    """newsbeam's own options, parsed from the same command line as Beam's."""

    @classmethod
    def _add_argparse_args(cls, parser):
        add = parser.add_argument
        add(
            "--input",
            dest="inputs",
            action="append",
            default=None,
            metavar="PATH_OR_GLOB",
            help="Input articles: a file, a directory (read recursively) or a glob such as 'data/**/*.html'. "
            "Repeatable. Reads .txt (raw text), .html/.htm (optionally .gz) and .jsonl (optionally .gz; one "
            "article per line with any of id, url, title, text, html, published, source/site, language). "
            "Any other file becomes a reject.",
        )
        add("--output", default="out", help="Output directory for the articles, stories, rejects and runs tables (default: out).")
        add("--run_id", "--run-id", dest="run_id", default=None, help="Name of this run (default: UTC time plus a random suffix).")
        add(
            "--max_input_bytes",
            "--max-input-bytes",
            dest="max_input_bytes",
            type=int,
            default=DEFAULT_MAX_BYTES,
            help=f"Largest text/HTML file or JSONL line accepted; larger ones are rejected as too_large (default: {DEFAULT_MAX_BYTES}).",
        )
        add(
            "--near_threshold",
            "--near-threshold",
            dest="near_threshold",
            type=float,
            default=DedupConfig.threshold,
            help="Estimated Jaccard similarity of word 5-shingles at which an article is a near copy of another "
            f"(default: {DedupConfig.threshold}). LSH bands and rows are derived from it.",
        )
        add(
            "--story_threshold",
            "--story-threshold",
            dest="story_threshold",
            type=float,
            default=StoryConfig.threshold,
            help="Average TF-IDF cosine similarity at which two groups of articles become one story "
            f"(default: {StoryConfig.threshold}).",
        )
        add(
            "--story_window_days",
            "--story-window-days",
            dest="story_window_days",
            type=float,
            default=StoryConfig.window_days,
            help=f"Dated articles further apart than this many days never share a story (default: {StoryConfig.window_days}).",
        )
        add(
            "--learn_min_articles",
            "--learn-min-articles",
            dest="learn_min_articles",
            type=int,
            default=CleanConfig.learn_min_articles,
            help="A short line found in this many distinct articles of one source is learned as template and removed "
            f"(default: {CleanConfig.learn_min_articles}).",
        )


def configs(opts: NewsbeamOptions) -> tuple[CleanConfig, DedupConfig, StoryConfig]:
    """Validated algorithm configs from the options; raises ValueError with a readable message."""
    clean = CleanConfig(
        learn_min_articles=opts.learn_min_articles,
        learn_min_articles_long=max(opts.learn_min_articles, CleanConfig.learn_min_articles_long),
    )
    dedup = DedupConfig(threshold=opts.near_threshold)
    story = StoryConfig(threshold=opts.story_threshold, window_days=opts.story_window_days, min_edge=min(StoryConfig.min_edge, opts.story_threshold))
    return clean, dedup, story


def help_parser(prog: str) -> argparse.ArgumentParser:
    """A parser that only exists to print `newsbeam run --help`."""
    parser = argparse.ArgumentParser(
        prog=prog,
        description="Read articles, strip boilerplate, group copies and same-event articles into stories, "
        "and write Parquet tables (articles, stories, rejects, runs) that DuckDB can query.",
        epilog="Every other option is passed to Apache Beam unchanged, e.g. --runner=DataflowRunner, "
        "--direct_running_mode=multi_processing --direct_num_workers=2. The default runner is the DirectRunner.",
    )
    NewsbeamOptions._add_argparse_args(parser)
    return parser
