"""Parsing publication dates: one parser with named modes, always returning an aware UTC datetime or None."""
from __future__ import annotations

import calendar
import datetime as dt
import enum
import warnings

from dateutil import parser as date_parser

from schemas.records import UTC
from schemas.rejects import Reason, RejectError


class DateMode(enum.Enum):
    """How strictly a value is read as a date."""

    GIVEN = "given"  # a record's own field: ISO 8601 or another common form; anything else is an invalid record
    LENIENT = "lenient"  # feeds, sitemaps, WARC headers: the same forms, None when it is not a date
    TEXT = "text"  # a date written in page text (dateutil, optionally fuzzy); None when there is none
    FULL_TEXT = "full_text"  # page text that must give day, month and year ("August 2012" is an archive link)


def _as_utc(parsed: dt.datetime) -> dt.datetime:
    """Naive times are taken as UTC."""
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def _given(value, field: str) -> dt.datetime | None:
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise RejectError(Reason.INVALID_RECORD, f"`{field}` must be a string, got {type(value).__name__}")
    text = value.strip()
    try:
        parsed = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        try:
            parsed = date_parser.parse(text)
        except (ValueError, OverflowError) as exc:
            raise RejectError(Reason.INVALID_RECORD, f"`{field}` is not a date: {value!r}") from exc
    try:
        return _as_utc(parsed)
    except OverflowError as exc:  # "0001-01-01T00:00:00+14:00" is a valid ISO date before year 1 in UTC
        raise RejectError(Reason.INVALID_RECORD, f"`{field}` is out of range in UTC: {value!r}") from exc


def _in_text(text: str, fuzzy: bool, full: bool) -> dt.datetime | None:
    # With `full`, parsing twice with different defaults tells a full date from a month, which dateutil would
    # complete with the default's day.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # dateutil warns about time zone names it does not know (ET, PT)
        try:
            one = date_parser.parse(text, fuzzy=fuzzy, default=dt.datetime(2000, 1, 1))
            two = date_parser.parse(text, fuzzy=fuzzy, default=dt.datetime(2001, 2, 2)) if full else one
        except (ValueError, OverflowError):
            return None
    if one.date() != two.date():
        return None
    try:
        return _as_utc(one)
    except OverflowError:  # a date at the edge of the calendar, shifted out of it by its zone
        return None


def parse_date(value, mode: DateMode = DateMode.LENIENT, *, fuzzy: bool = False, field: str = "published") -> dt.datetime | None:
    """The date `value` holds, in UTC, read as `mode` says; None when there is none (GIVEN mode raises instead
    for a value that is not a date, naming `field`)."""
    if mode is DateMode.GIVEN:
        return _given(value, field)
    if mode is DateMode.LENIENT:
        try:
            return _given(value, field)
        except RejectError:
            return None
    if not value:
        return None
    return _in_text(value, fuzzy, mode is DateMode.FULL_TEXT)


def from_struct_time(value) -> dt.datetime | None:
    """A UTC `time.struct_time` (feedparser's `*_parsed` fields) as an aware datetime, or None."""
    if not value:
        return None
    try:
        return dt.datetime.fromtimestamp(calendar.timegm(value), UTC)
    except (OverflowError, ValueError, TypeError):
        return None
