"""The four output tables and their schemas, in one place."""
from schemas.article import ARTICLES_SCHEMA, RUNS_SCHEMA, STORIES_SCHEMA
from schemas.rejects import REJECTS_SCHEMA

TABLE_SCHEMAS = {
    "articles": ARTICLES_SCHEMA,
    "stories": STORIES_SCHEMA,
    "rejects": REJECTS_SCHEMA,
    "runs": RUNS_SCHEMA,
}
