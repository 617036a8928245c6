"""The counts a run's pipeline writes for its driver (`<staging>/_counts.json`): accounting checks and the summary."""
from __future__ import annotations

ARTICLES = "articles"  # article rows written
EXACT_COPIES = "exact_duplicates"  # of which exact copies
NEAR_COPIES = "near_duplicates"  # of which near copies
STORIES = "stories"  # story rows written
CONTINUED_STORIES = "continued_stories"  # of which continue a story of an earlier run
REJECTS = "rejects"  # reject rows written
REJECTS_BY_REASON = "rejects."  # prefix: rejects.<reason>
REJECTS_AT_STAGE = "rejects_at."  # prefix: rejects_at.<stage>
ENTERED_CLEANING = "entered_cleaning"  # articles that entered boilerplate removal (each leaves as an article or a reject)
EARLIER_COPIES = "earlier_copies"  # articles marked as copies of earlier runs' articles
