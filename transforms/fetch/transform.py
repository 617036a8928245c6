"""The fetch stage in Beam: seeds -> feeds and sitemaps -> indexed sitemaps -> pages -> RawArticles, and the
state it leaves for later runs (validators for conditional GET, per-host request counts)."""
from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable

import apache_beam as beam
from apache_beam.metrics import Metrics

from schemas.layout import FEED_POLLS_STATE, INGESTED_STATE, VALIDATORS_STATE, StagingLayout
from schemas.records import UTC
from schemas.rejects import Reason, RejectError, Stage
from schemas.state import FEED_POLLS_SCHEMA, INGESTED_SCHEMA, VALIDATORS_SCHEMA
from transforms.fetch.client import make_pool_manager
from transforms.fetch.config import FetchConfig
from transforms.fetch.discovery import best_request, discover, listed_urls
from transforms.fetch.hints import SkipNotDueFn, newest_poll, poll_row, read_polls
from transforms.fetch.ingested import SkipIngestedPages, page_key
from transforms.fetch.pages import to_raw_article
from transforms.fetch.records import (
    KIND_FEED,
    KIND_PAGE,
    KIND_SITEMAP,
    Fetched,
    FetchRequest,
    FetchSources,
    NotModified,
    merge_host_states,
)
from transforms.fetch.scheduler import SlotFetcher, slot_of
from transforms.fetch.validators import newest, read_validators
from transforms.parquet import WriteParquet
from transforms.rejecting import REJECTS, one_record, reject, reject_error
from transforms.urls import canonical_url, check_url, is_http_url, politeness_key

# Tagged outputs of FetchUrls (besides its main output "docs") and of FetchArticles (besides "articles").
VALIDATORS = "validators"  # validators rows (dicts) of the 200 responses: conditional GET on later runs
HOSTS = "hosts"  # (host, HostState): robots.txt verdicts and last contact, handed to the next fetch stage
HOST_COUNTS = "host_counts"  # (host, {requests, ok, not_modified, failed}): the fetch summary
POLLS = "polls"  # feed_polls rows (dicts) of every feed or sitemap polled: when it asked to be polled next
INGESTED = "ingested"  # ingested_urls rows (dicts) of the pages fetched: not requested again by later runs


class SeedRequestsFn(beam.DoFn):
    """(kind, path or URL) seeds -> FetchRequests; unreadable lists, bad list files and bad lines are rejects.

    A feed or sitemap seed that is an http(s) URL is one request; otherwise the seed is a list file read through
    Beam's FileSystems: a feed list (OPML or text) for feeds, a URL list for pages and sitemaps. Every request's
    URL is checked (http(s), with a host, fragment dropped). Tagged output: rejects (stage discover).
    """

    @one_record(Stage.DISCOVER, lambda item: (item[1], None))
    def process(self, item: tuple[str, str]):
        from apache_beam.io.filesystems import FileSystems

        what, where = item
        if what in (KIND_SITEMAP, KIND_FEED) and is_http_url(where):
            urls, kind = [where], what
        else:
            try:
                with FileSystems.open(where, compression_type="uncompressed") as f:
                    data = f.read()
            except OSError as exc:
                yield reject(where, None, Stage.DISCOVER, Reason.UNREADABLE, f"{type(exc).__name__}: {exc}")
                return
            try:
                urls = listed_urls(what, data)
            except RejectError as exc:
                yield reject_error(where, None, Stage.DISCOVER, exc)
                return
            kind = what if what in (KIND_FEED, KIND_SITEMAP) else KIND_PAGE
        for number, url in enumerate(urls, start=1):
            try:
                yield FetchRequest(check_url(url), kind, where)
            except RejectError as exc:
                yield reject_error(url, f"{where}:{number}", Stage.DISCOVER, exc)


class FetchSlotFn(beam.DoFn):
    """(slot, [FetchRequest]) -> Fetched documents. The slots of one bundle are fetched together when the bundle
    ends, by one SlotFetcher with a thread per slot: up to that many requests in flight, each host polite
    (one request at a time, its interval apart). A host is in one slot and a slot in one bundle, so a host is
    never fetched by two workers at once, and across all bundles at most `concurrency` (the number of
    slots) requests are in flight. (A runner may hand one worker all the slots in one bundle, as Beam's local
    runner does in one process: fetching slot after slot there made a list of many hosts as slow as one.)

    The same URL asked twice is fetched once; requests are sorted so a run is reproducible. A 304 is counted
    (`fetch.not_modified`), not output. Tagged outputs: rejects (Reject, stage fetch, one per failed request),
    validators (rows), hosts ((host, HostState)), host_counts ((host, counts)).
    """

    def __init__(self, cfg: FetchConfig):
        self.cfg = cfg
        self.pm = None

    def setup(self):
        self.pm = make_pool_manager(self.cfg)

    def teardown(self):
        if self.pm is not None:
            self.pm.clear()

    def start_bundle(self):
        self._slots: list[list[FetchRequest]] = []
        self._side = ({}, {})

    def process(self, element, validators, prior_hosts):
        _, requests = element
        self._slots.append(list(requests))
        self._side = (validators, prior_hosts)  # the same side inputs for every element

    def finish_bundle(self):
        from apache_beam.transforms.window import GlobalWindows

        if not self._slots:
            return
        slots, self._slots = self._slots, []
        unique = {r.url: r for r in sorted((r for slot in slots for r in slot), key=lambda r: (r.url, r.kind, r.origin))}
        validators, prior_hosts = self._side
        fetcher = SlotFetcher(self.cfg, self.pm, validators, prior_hosts, threads=min(len(slots), self.cfg.concurrency))
        windowed = GlobalWindows.windowed_value  # finish_bundle outputs carry their window
        bodies = {}  # feed/sitemap url -> body, for the hints in it
        for outcome in fetcher.run(unique.values()):
            if isinstance(outcome, Fetched):
                Metrics.counter("fetch", "fetched").inc()
                if outcome.request.kind != KIND_PAGE:
                    bodies[outcome.request.url] = outcome.body
                yield windowed(outcome)
            elif isinstance(outcome, NotModified):
                Metrics.counter("fetch", "not_modified").inc()
                if outcome.request.kind == KIND_PAGE:  # unchanged since a run before ingested_urls existed: ingested
                    yield beam.pvalue.TaggedOutput(INGESTED, windowed({"url": page_key(outcome.request.url)}))
            else:
                failed = reject(outcome.request.url, outcome.request.origin, Stage.FETCH, outcome.reason, outcome.detail)
                yield beam.pvalue.TaggedOutput(failed.tag, windowed(failed.value))
        for row in fetcher.new_validators:
            yield beam.pvalue.TaggedOutput(VALIDATORS, windowed(row))
        now = dt.datetime.now(UTC)
        for url, (status, headers) in fetcher.poll_responses.items():
            yield beam.pvalue.TaggedOutput(POLLS, windowed(poll_row(url, status, headers, bodies.get(url), now)))
        for state in fetcher.host_states():
            yield beam.pvalue.TaggedOutput(HOSTS, windowed((state.host, state)))
        for host, counts in fetcher.stats.items():
            yield beam.pvalue.TaggedOutput(HOST_COUNTS, windowed((host, counts)))


class DiscoverLinksFn(beam.DoFn):
    """Fetched feed or sitemap -> FetchRequests for its entries (pages, or the sitemaps of an index).

    Tagged output: rejects (stage discover): feed_malformed for a document that yields nothing usable,
    invalid_url for each entry without a usable URL. Counts the requests as `discover.links`.
    """

    def __init__(self, max_bytes: int):
        self.max_bytes = max_bytes

    @one_record(Stage.DISCOVER, lambda doc: (doc.request.url, doc.request.origin))
    def process(self, doc: Fetched):
        try:
            requests, problems = discover(doc, self.max_bytes)
        except RejectError as exc:
            yield reject_error(doc.request.url, doc.request.origin, Stage.DISCOVER, exc)
            return
        for problem in problems:
            yield reject(doc.request.url, doc.request.origin, Stage.DISCOVER, Reason.INVALID_URL, problem)
        Metrics.counter("discover", "links").inc(len(requests))
        yield from requests


class ToRawArticleFn(beam.DoFn):
    """Fetched page -> RawArticle (input_format http, feed/sitemap metadata as fallbacks).

    Tagged output: rejects (stage fetch): empty_input, bad_encoding or not_html.
    """

    @one_record(Stage.FETCH, lambda doc: (doc.request.url, doc.request.origin))
    def process(self, doc: Fetched):
        yield to_raw_article(doc)


def _sum_counts(dicts: Iterable[dict]) -> dict:
    """Counts added up per name."""
    total: dict[str, int] = {}
    for d in dicts:
        for k, v in d.items():
            total[k] = total.get(k, 0) + v
    return total


def _is_page(request: FetchRequest, _partitions: int) -> int:
    """Partition 0 for a page request, 1 for a feed or sitemap."""
    return 0 if request.kind == KIND_PAGE else 1


class FetchUrls(beam.PTransform):
    """PCollection[FetchRequest] -> {docs: Fetched, rejects, validators, hosts, host_counts}.

    Requests are keyed by a stable slot of their host (`concurrency` slots) and grouped, so all requests to
    one host are fetched by one fetcher, one at a time at the configured rate; the slots of a bundle are
    fetched together with a thread per slot (see FetchSlotFn), so at most `concurrency` requests are in
    flight at once and different hosts proceed in parallel, on one worker or several. `validators` (url -> row) are earlier runs'
    validators; `prior_hosts` (host -> HostState) carries robots.txt and the last contact time from an
    earlier fetch stage.
    """

    def __init__(self, cfg: FetchConfig, validators, prior_hosts):
        super().__init__()
        self.cfg, self.validators, self.prior_hosts = cfg, validators, prior_hosts

    def expand(self, requests):
        slots = self.cfg.concurrency
        # (slot, FetchRequest) -> GroupByKey -> (slot, [FetchRequest])
        grouped = (
            requests
            | "KeyBySlot" >> beam.Map(lambda r: (slot_of(politeness_key(r.url), slots), r))
            | "GroupBySlot" >> beam.GroupByKey()
        )
        return grouped | "FetchEachSlot" >> beam.ParDo(
            FetchSlotFn(self.cfg),
            validators=beam.pvalue.AsDict(self.validators),
            prior_hosts=beam.pvalue.AsDict(self.prior_hosts),
        ).with_outputs(REJECTS, VALIDATORS, HOSTS, HOST_COUNTS, POLLS, INGESTED, main="docs")


class FetchArticles(beam.PTransform):
    """PBegin -> {articles: RawArticle, rejects: Reject, validators: row dict, host_counts: (host, counts)}.

    Three fetch stages, each a barrier for the next: the feeds and sitemaps the user named; the sitemaps
    named by sitemap indexes; pages (URLs given directly plus every link discovered, one request per
    canonical URL, the one with most metadata). Robots.txt verdicts and last-contact times flow from stage
    to stage, so a host's robots.txt is fetched once per run and its rate holds across stages.
    `state_glob` matches the validators files of earlier runs (ETag/Last-Modified per URL; the newest row
    per URL wins). Every seed, document and page that does not become an article is a reject.
    `ingested_glob` (earlier runs' ingested_urls): pages whose canonical URL is there are not requested.
    `polls_glob` (earlier runs' feed_polls): feeds and sitemaps not due yet by their own hints are not requested.
    Extra outputs: polls and ingested (state rows for later runs).
    """

    def __init__(self, sources: FetchSources, cfg: FetchConfig, state_glob: str | None, max_bytes: int,
                 ingested_glob: str | None = None, polls_glob: str | None = None):
        super().__init__()
        self.sources, self.cfg, self.state_glob, self.max_bytes = sources, cfg, state_glob, max_bytes
        self.ingested_glob, self.polls_glob = ingested_glob, polls_glob

    def expand(self, pbegin):
        cfg = self.cfg
        p = pbegin.pipeline
        globs = [self.state_glob] if self.state_glob else []
        validators = (
            p
            | "EarlierValidatorsGlob" >> beam.Create(globs)
            | "ReadValidators" >> beam.FlatMap(read_validators)
            # (url, validators) -> GroupByKey -> newest per url
            | "NewestValidatorsPerUrl" >> beam.CombinePerKey(newest)
        )
        seeds = (
            p
            | "CreateSeeds" >> beam.Create(self.sources.seeds())
            | "SeedsToRequests" >> beam.ParDo(SeedRequestsFn()).with_outputs(REJECTS, main="requests")
        )
        no_hosts = p | "NoPriorHosts" >> beam.Create([])
        seeded = seeds["requests"] | "SplitSeededPages" >> beam.Partition(_is_page, 2)

        feeds = seeded[1]
        if self.polls_glob:
            polls = (
                p
                | "EarlierPollsGlob" >> beam.Create([self.polls_glob])
                | "ReadPolls" >> beam.FlatMap(read_polls)
                # (url, poll row) -> GroupByKey -> newest per url
                | "NewestPollPerUrl" >> beam.CombinePerKey(newest_poll)
            )
            feeds = feeds | "SkipFeedsNotDue" >> beam.ParDo(SkipNotDueFn(), polls=beam.pvalue.AsDict(polls))
        docs1 = feeds | "FetchFeedsAndSitemaps" >> FetchUrls(cfg, validators, no_hosts)
        found1 = docs1["docs"] | "DiscoverInFeedsAndSitemaps" >> beam.ParDo(DiscoverLinksFn(self.max_bytes)).with_outputs(REJECTS, main="requests")
        found1_split = found1["requests"] | "SplitDiscoveredPages" >> beam.Partition(_is_page, 2)
        hosts1 = docs1[HOSTS] | "MergeHostsAfterFeeds" >> beam.CombinePerKey(merge_host_states)

        docs2 = found1_split[1] | "FetchIndexedSitemaps" >> FetchUrls(cfg, validators, hosts1)
        found2 = docs2["docs"] | "DiscoverInIndexedSitemaps" >> beam.ParDo(DiscoverLinksFn(self.max_bytes)).with_outputs(REJECTS, main="requests")
        hosts2 = (
            (docs1[HOSTS], docs2[HOSTS])
            | "FlattenHostsAfterSitemaps" >> beam.Flatten()
            | "MergeHostsAfterSitemaps" >> beam.CombinePerKey(merge_host_states)
        )

        pages = (
            (seeded[0], found1_split[0], found2["requests"])
            | "FlattenPageRequests" >> beam.Flatten()
            # (canonical url, FetchRequest) -> GroupByKey -> one request per page, the one with most metadata
            | "KeyByCanonicalUrl" >> beam.Map(lambda r: (canonical_url(r.url) or r.url, r))
            | "BestRequestPerPage" >> beam.CombinePerKey(best_request)
            | "DropCanonicalUrl" >> beam.Values()
        )
        if self.ingested_glob:
            pages = pages | "SkipIngestedPages" >> SkipIngestedPages(self.ingested_glob)
        docs3 = pages | "FetchPages" >> FetchUrls(cfg, validators, hosts2)
        articles = docs3["docs"] | "ToRawArticle" >> beam.ParDo(ToRawArticleFn()).with_outputs(REJECTS, main="articles")

        rejects = (
            seeds[REJECTS], docs1[REJECTS], found1[REJECTS], docs2[REJECTS], found2[REJECTS], docs3[REJECTS], articles[REJECTS],
        ) | "FlattenRejects" >> beam.Flatten()
        new_validators = (docs1[VALIDATORS], docs2[VALIDATORS], docs3[VALIDATORS]) | "FlattenValidators" >> beam.Flatten()
        host_counts = (
            (docs1[HOST_COUNTS], docs2[HOST_COUNTS], docs3[HOST_COUNTS])
            | "FlattenHostCounts" >> beam.Flatten()
            | "SumCountsPerHost" >> beam.CombinePerKey(_sum_counts)
        )
        polled = (docs1[POLLS], docs2[POLLS]) | "FlattenPolls" >> beam.Flatten()
        ingested = (
            docs3["docs"] | "IngestedUrls" >> beam.Map(lambda d: {"url": page_key(d.request.url)}),
            docs3[INGESTED],
        ) | "AllIngested" >> beam.Flatten()
        return {"articles": articles["articles"], REJECTS: rejects, VALIDATORS: new_validators, HOST_COUNTS: host_counts,
                POLLS: polled, INGESTED: ingested}


class WriteFetchState(beam.PTransform):
    """FetchArticles' {validators, host_counts} -> a run's staged fetch state.

    Writes `<staging>/_state/http_validators/part-00000-of-00001.parquet` (VALIDATORS_SCHEMA, with `run_id`), the
    same for feed_polls and ingested_urls, and
    `<staging>/_fetch_hosts.json` (one JSON object: host -> counts, keys sorted). Returns the JSON write's result.
    """

    def __init__(self, staging_dir: str, run_id: str):
        super().__init__()
        self.staging, self.run_id = StagingLayout(staging_dir), run_id

    def expand(self, outputs):
        run_id = self.run_id
        (
            outputs[VALIDATORS]
            | "AddRunId" >> beam.Map(lambda r: {**r, "run_id": run_id})
            | "WriteValidators" >> WriteParquet(self.staging.state_prefix(VALIDATORS_STATE), VALIDATORS_SCHEMA, num_shards=1)
        )
        for tag, state, schema in ((POLLS, FEED_POLLS_STATE, FEED_POLLS_SCHEMA), (INGESTED, INGESTED_STATE, INGESTED_SCHEMA)):
            if tag in outputs:
                (
                    outputs[tag]
                    | f"AddRunIdTo{tag.title()}" >> beam.Map(lambda r: {**r, "run_id": run_id})
                    | f"Write{tag.title()}" >> WriteParquet(self.staging.state_prefix(state), schema, num_shards=1)
                )
        return (
            outputs[HOST_COUNTS]
            | "CollectHostCounts" >> beam.combiners.ToDict()
            | "HostCountsToJson" >> beam.Map(lambda d: json.dumps(d, sort_keys=True))
            | "WriteHostCounts" >> beam.io.WriteToText(self.staging.host_counts, num_shards=1, shard_name_template="")
        )
