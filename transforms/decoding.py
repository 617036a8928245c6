"""Bytes to text: UTF-8 first, then the page's declared charset or charset detection; binary data refused."""
from __future__ import annotations

import re

from schemas.rejects import Reason, RejectError

# C0 control characters other than tab and line breaks (and DEL): text files hold none, binary data many.
_CONTROL = re.compile(r"[\x00-\x08\x0e-\x1f\x7f]")
# Lone surrogates (JSON's "\ud800" escapes, feed character references) have no UTF-8 form: nothing could hash,
# compare or store a text holding one, so they become U+FFFD and count as replacement characters.
_SURROGATE = re.compile("[\ud800-\udfff]")
# Decoded text with more than this share of control or replacement characters (U+FFFD) is not text.
MAX_CONTROL_SHARE = 0.01


def without_surrogates(text: str) -> str:
    """`text` with lone surrogates replaced by U+FFFD (the usual text has none: one scan)."""
    return text if _SURROGATE.search(text) is None else _SURROGATE.sub("\ufffd", text)


def checked_text(text: str) -> str:
    """Decoded text with stray control characters removed and lone surrogates replaced; RejectError(bad_encoding)
    when there are so many control or replacement characters that the bytes were binary data or decoded with
    the wrong encoding."""
    text = without_surrogates(text)
    if "\ufffd" not in text and _CONTROL.search(text) is None:
        return text  # the usual case: one scan, no counting
    bad = len(_CONTROL.findall(text)) + text.count("\ufffd")
    if bad > MAX_CONTROL_SHARE * len(text):
        raise RejectError(
            Reason.BAD_ENCODING,
            f"{bad / len(text):.0%} of the decoded characters are control or replacement characters "
            "(binary data, or text in an encoding that was not recognised)",
        )
    return _CONTROL.sub("", text)


def _detected(data: bytes) -> str | None:
    """The bytes decoded with charset-normalizer's best guess (which also finds UTF-16/32 without a BOM)."""
    from charset_normalizer import from_bytes  # only needed for non-UTF-8 input

    best = from_bytes(data).best()
    return None if best is None else str(best)


def decode_text(data: bytes) -> str:
    """Decode bytes as UTF-8 (with or without BOM), else the best guess of charset-normalizer.

    NUL bytes are valid UTF-8 but never occur in UTF-8 text; they are how UTF-16 without a BOM looks, so such
    bytes go to detection first."""
    if b"\x00" not in data:
        try:
            return checked_text(data.decode("utf-8-sig"))
        except UnicodeDecodeError:
            pass
    text = _detected(data)
    if text is None:
        raise RejectError(Reason.BAD_ENCODING, "bytes are not UTF-8 and no other text encoding fits")
    return checked_text(text)


def decode_html(data: bytes) -> str:
    """Decode an HTML page, honouring its declared charset (trafilatura's own detection)."""
    from trafilatura.utils import decode_file

    text = _detected(data) if b"\x00" in data else decode_file(data)  # NUL bytes: UTF-16 without a BOM, or binary
    if not isinstance(text, str):
        raise RejectError(Reason.BAD_ENCODING, "HTML bytes decode as no text encoding (binary data?)")
    return checked_text(text)


def decode_page(body: bytes, charset: str | None) -> str:
    """HTML text of an HTTP body: the HTTP charset when it decodes cleanly, else the page's own declaration."""
    if charset:
        try:
            return checked_text(body.decode(charset))
        except (LookupError, UnicodeDecodeError):
            pass
    return decode_html(body)
