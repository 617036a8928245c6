"""A fetched HTML page as a RawArticle, with the feed or sitemap metadata that named it as fallbacks."""
from __future__ import annotations

from schemas.records import FORMAT_HTTP, RawArticle
from schemas.rejects import Reason, RejectError
from transforms.decoding import decode_page
from transforms.fetch.records import Fetched
from transforms.identity import content_id, source_key


def to_raw_article(doc: Fetched) -> RawArticle:
    """A fetched HTML page as a RawArticle; feed/sitemap metadata ride along as fallbacks for extraction.

    Raises RejectError: empty_input for an empty body, bad_encoding for bytes that are not text, not_html for a
    body without a Content-Type that is not markup.
    """
    if not doc.body.strip():
        raise RejectError(Reason.EMPTY_INPUT, "empty response body")
    html = decode_page(doc.body, doc.charset)
    if not doc.content_type and not html.lstrip()[:1] == "<":
        raise RejectError(Reason.NOT_HTML, "no Content-Type and the body is not markup")
    req = doc.request
    return RawArticle(
        article_id=content_id(doc.url, html),
        source_uri=req.url,
        input_format=FORMAT_HTTP,
        content=html,
        is_html=True,
        url=doc.url,
        language=req.language,
        source_key=source_key(None, doc.url, req.url),
        fallback_title=req.title,
        fallback_author=req.author,
        fallback_published_at=req.published_at,
        fallback_site=req.site,
    )
