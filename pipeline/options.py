"""Run options: what changes per run. Beam's own options (--runner, ...) pass through; anything else is an error."""
from __future__ import annotations

import argparse
import difflib

from apache_beam.options.pipeline_options import PipelineOptions

from transforms.clean import CleanConfig
from transforms.copies import CopyConfig
from transforms.fetch import FetchConfig
from transforms.read import DEFAULT_MAX_BYTES
from transforms.read.formats import AUTO, FORMATS
from transforms.stories import StoryConfig


class NewsbeamOptions(PipelineOptions):
    """newsbeam's own options, parsed from the same command line as Beam's."""

    @classmethod
    def _add_argparse_args(cls, parser):
        add = parser.add_argument
        add(
            "--input",
            dest="inputs",
            action="extend",
            nargs="+",
            default=None,
            metavar="PATH_OR_GLOB",
            help="Input articles: a file, a directory (read recursively) or a glob such as 'data/**/*.html'. "
            "Repeatable; several paths may follow one --input (as an unquoted glob expands). Reads .txt (raw "
            "text), .html/.htm (optionally .gz), .jsonl (optionally .gz; one article per line with any of id, "
            "url, title, text, html, published, source/site, language) and .warc (optionally .gz). Any other file "
            "becomes a reject, unless --format names its kind.",
        )
        add("--format", "--input_format", "--input-format", dest="input_format", choices=FORMATS, default=AUTO,
            help="Kind of every --input file: text, html, jsonl or warc, whatever the file's extension (a name "
            "ending in .gz is still read as gzipped); for files whose names say nothing, such as 'export.dat' or "
            "'feed.json'. Default auto: by extension as listed under --input.")
        add("--output", default="out", help="Output directory for the articles, stories, rejects and runs tables (default: out).")
        add("--run_id", "--run-id", dest="run_id", default=None,
            help="Name of this run: letters, digits, '.', '_' and '-', at most 128, new in the output "
            "(default: UTC time plus a random suffix).")
        add(
            "--standalone",
            dest="standalone",
            action="store_true",
            default=False,
            help="A stand-alone run that ignores what earlier runs into this --output did: every input file is read "
            "again, and copies and stories are found among this run's articles only. By default a run continues the "
            "output: files an earlier run read with the same path, size and modification time are skipped "
            "(<output>/_state/files/), exact and near copies of earlier articles are marked as such in their story "
            "(<output>/_state/signatures/), and articles about an event of an earlier run, published within "
            "--story_window_days of it, continue its story (<output>/_state/story_terms/).",
        )
        add(
            "--only_new",
            "--only-new",
            dest="only_new",
            action="store_true",
            default=False,
            help="Accepted for scripts written for earlier versions: runs are incremental by default now.",
        )
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
            default=CopyConfig.threshold,
            help="Estimated Jaccard similarity of word 5-shingles at which an article is a near copy of another "
            f"(default: {CopyConfig.threshold}). LSH bands and rows are derived from it.",
        )
        add(
            "--story_threshold",
            "--story-threshold",
            dest="story_threshold",
            type=float,
            default=StoryConfig.threshold,
            help="Similarity at which two groups of articles become one story: their average TF-IDF cosine, or the "
            f"cosine of their centroids when both groups are headlines only (default: {StoryConfig.threshold}).",
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
            "--story_dense",
            "--story-dense",
            dest="story_dense",
            choices=("off", "headlines", "all"),
            default=StoryConfig.dense,
            help="Which articles also get a dense multilingual vector (multilingual-e5-small, bundled) for stories "
            "across wordings and languages: off, headlines (articles without a body; about 15 ms each) or all "
            f"(also full articles: about 150 ms each, several times the rest of the pipeline) (default: {StoryConfig.dense}).",
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
        add(
            "--workers",
            dest="workers",
            type=int,
            default=0,
            help="Cores of this machine the run uses (the DirectRunner). 1: the pipeline runs in this process and "
            "cleans HTML in one child process, one page at a time (the time limit per page kills that child), so one "
            "core is busy at a time. N >= 2: the pipeline in this process and N cleaning child processes (about 65 MB "
            "each at start), two pages each in flight, so they clean while this process reads and writes. 0 "
            "(default) chooses: 1 for inputs under 8 MB in all, one per CPU core for larger ones. With "
            "--direct_running_mode multi_processing, N Beam worker processes instead (about 0.35 GB each, every stage "
            "spread over them, fetching and stories too; default one per core), each cleaning in its own child. With "
            "--runner, use that runner's worker options.",
        )
        add(
            "--max_failed_share",
            "--max-failed-share",
            dest="max_failed_share",
            type=float,
            default=None,
            help="Exit with status 4 when more than this share (0 to 1) of the inputs could not be read or fetched "
            "(the run is still committed). Default: only a run whose every input failed exits non-zero (status 3).",
        )
        _add_fetch_args(add)


def _add_fetch_args(add) -> None:
    """Options of the fetch stage (transforms/fetch.py): what to fetch, politeness and safety."""
    F = FetchConfig
    add("--feeds", dest="feeds", action="append", default=None, metavar="FILE_OR_URL",
        help="Feeds to read: an OPML file, a text file with one feed URL per line, or one feed URL (RSS 0.9x/1.0/2.0, "
        "Atom). Every entry's page is fetched. Repeatable.")
    add("--urls", dest="urls", action="append", default=None, metavar="FILE",
        help="A text file with one article URL per line (# starts a comment). Repeatable.")
    add("--sitemap", dest="sitemaps", action="append", default=None, metavar="URL",
        help="A sitemap URL: standard or Google News sitemap, sitemap index, gzipped or not. Repeatable.")
    add("--refresh", dest="refresh", action="store_true", default=False,
        help="Request every page again, also those whose canonical URL an earlier run ingested (by default an "
        "incremental run does not request them: <output>/_state/ingested_urls/).")
    add("--poll_hints", "--poll-hints", dest="poll_hints", action="store_true", default=False,
        help="Honour a feed's own hints that ask for less frequent polls (<ttl>, sy:updatePeriod, Cache-Control "
        "max-age, Retry-After): a feed not due yet is not requested (<output>/_state/feed_polls/). `newsbeam follow` "
        "sets it for every cycle.")
    add("--allow_private_addresses", "--allow-private-addresses", dest="allow_private_addresses", action="store_true", default=False,
        help="Allow fetching hosts that resolve to private, loopback, link-local, multicast or reserved addresses "
        "(refused by default, also after redirects, so a feed cannot make newsbeam read an internal service).")
    add("--allow_network", "--allow-network", dest="allow_networks", action="append", default=None, metavar="CIDR",
        help="A network allowed even when private addresses are not, e.g. 10.1.2.0/24 for an intranet feed server. Repeatable.")
    # Beam owns --user_agent (for its own service calls), so ours is --user-agent / --fetch_user_agent.
    add("--user-agent", "--fetch_user_agent", "--fetch-user-agent", dest="fetch_user_agent", default=F.user_agent,
        help=f"User-Agent sent with every request; its first word is matched against robots.txt groups (default: {F.user_agent!r}).")
    add("--rate_per_host", "--rate-per-host", dest="rate_per_host", type=float, default=F.rate_per_host,
        help=f"Requests per second to any one host, counted from the end of one response to the next request; a larger "
        f"robots.txt Crawl-delay wins (default: {F.rate_per_host}).")
    add("--fetch_concurrency", "--fetch-concurrency", dest="fetch_concurrency", type=int, default=F.concurrency,
        help=f"At most this many requests in flight at once, across all workers; hosts are spread over this many "
        f"sequential fetchers (default: {F.concurrency}).")
    add("--connect_timeout", "--connect-timeout", dest="connect_timeout", type=float, default=F.connect_timeout,
        help=f"Seconds to wait for a connection (default: {F.connect_timeout}).")
    add("--read_timeout", "--read-timeout", dest="read_timeout", type=float, default=F.read_timeout,
        help=f"Seconds to wait for each read from the server (default: {F.read_timeout}).")
    add("--total_timeout", "--total-timeout", dest="total_timeout", type=float, default=F.total_timeout,
        help=f"Seconds one whole response may take (default: {F.total_timeout}).")
    add("--max_fetch_bytes", "--max-fetch-bytes", dest="max_fetch_bytes", type=int, default=F.max_body_bytes,
        help=f"Largest response body accepted after decompression; larger ones are rejected as too_large (default: {F.max_body_bytes}).")
    add("--max_redirects", "--max-redirects", dest="max_redirects", type=int, default=F.max_redirects,
        help=f"Redirects followed per URL before too_many_redirects (default: {F.max_redirects}).")
    add("--retries", dest="retries", type=int, default=F.retries,
        help=f"Extra attempts after a 429, a 5xx or a connection error (default: {F.retries}).")
    add("--backoff", dest="backoff", type=float, default=F.backoff,
        help=f"Seconds before the first retry, doubling each time; a longer Retry-After wins (default: {F.backoff}).")
    add("--max_retry_after", "--max-retry-after", dest="max_retry_after", type=float, default=F.max_retry_after,
        help=f"A Retry-After longer than this many seconds gives up on the URL instead of stalling the run (default: {F.max_retry_after}).")
    add("--max_crawl_delay", "--max-crawl-delay", dest="max_crawl_delay", type=float, default=F.max_crawl_delay,
        help=f"A robots.txt Crawl-delay is honoured up to this many seconds (default: {F.max_crawl_delay}).")


def fetch_config(opts: NewsbeamOptions) -> FetchConfig:
    """The validated fetcher config; raises ValueError with a readable message."""
    return FetchConfig(
        user_agent=opts.fetch_user_agent,
        rate_per_host=opts.rate_per_host,
        concurrency=opts.fetch_concurrency,
        connect_timeout=opts.connect_timeout,
        read_timeout=opts.read_timeout,
        total_timeout=opts.total_timeout,
        max_body_bytes=opts.max_fetch_bytes,
        max_redirects=opts.max_redirects,
        retries=opts.retries,
        backoff=opts.backoff,
        max_retry_after=opts.max_retry_after,
        max_crawl_delay=opts.max_crawl_delay,
        allow_private_addresses=opts.allow_private_addresses,
        allow_networks=tuple(opts.allow_networks or ()),
    )


def configs(opts: NewsbeamOptions) -> tuple[CleanConfig, CopyConfig, StoryConfig]:
    """Validated algorithm configs from the options; raises ValueError with a readable message."""
    clean = CleanConfig(
        learn_min_articles=opts.learn_min_articles,
        learn_min_articles_long=max(opts.learn_min_articles, CleanConfig.learn_min_articles_long),
    )
    dedup = CopyConfig(threshold=opts.near_threshold)
    story = StoryConfig(threshold=opts.story_threshold, window_days=opts.story_window_days,
                        min_edge=min(StoryConfig.min_edge, opts.story_threshold), dense=opts.story_dense)
    return clean, dedup, story


def help_parser(prog: str) -> argparse.ArgumentParser:
    """A parser that only exists to print `newsbeam run --help`."""
    parser = argparse.ArgumentParser(
        prog=prog,
        description="Read articles, strip boilerplate, group copies and same-event articles into stories, "
        "and write Parquet tables (articles, stories, rejects, runs) that DuckDB can query.",
        epilog="Every other option is passed to Apache Beam unchanged, e.g. --runner=DataflowRunner, "
        "--direct_running_mode=multi_processing --direct_num_workers=2 (Beam worker processes: see --workers). The "
        "default runner is the DirectRunner.",
    )
    NewsbeamOptions._add_argparse_args(parser)
    return parser


def _beam_parser() -> argparse.ArgumentParser:
    """A parser that knows every option of newsbeam and of every Beam options class imported (as Beam's own)."""
    from apache_beam.options.pipeline_options import _BeamArgumentParser

    parser = _BeamArgumentParser(allow_abbrev=False, add_help=False)
    seen = {}
    for cls in PipelineOptions.__subclasses__():
        seen.setdefault(str(cls), cls)
    for cls in seen.values():
        cls._add_argparse_args(parser)  # noqa: SLF001 - Beam's own way of collecting its options
    return parser


def checked_argv(argv: list[str]) -> list[str]:
    """The command line for Beam, once every option is known: newsbeam's, or one Beam itself accepts. Whatever
    follows `--` is handed to Beam unchecked. Raises ValueError naming an unknown option (with the nearest known
    one) or a stray argument, instead of letting Beam ignore it and run with defaults."""
    if "--" in argv:
        cut = argv.index("--")
        ours, passthrough = argv[:cut], argv[cut + 1:]
    else:
        ours, passthrough = list(argv), []
    parser = _beam_parser()
    _, unknown = parser.parse_known_args(ours)
    if unknown:
        known = [s for action in parser._actions for s in action.option_strings]  # noqa: SLF001
        problems, after_option = [], False
        for token in unknown:
            if token.startswith("-"):
                name = token.split("=", 1)[0]
                near = difflib.get_close_matches(name, known, n=1, cutoff=0.6)
                problems.append(f"unknown option {name}" + (f" (did you mean {near[0]}?)" if near else ""))
                after_option = "=" not in token
            elif not after_option:  # the value of an unknown option is not a second problem
                problems.append(f"unexpected argument {token!r} (an input? give it after --input)")
            else:
                after_option = False
        raise ValueError("; ".join(problems) + ". Options for Beam that newsbeam does not know go after `--`.")
    return ours + passthrough
