"""The summary a run prints when it has committed."""
from __future__ import annotations

from pipeline.status import EXIT_CODES


def _fetch_lines(fetch_hosts: dict) -> list[str]:
    total = {k: sum(h.get(k, 0) for h in fetch_hosts.values()) for k in ("requests", "ok", "not_modified", "failed")}
    lines = [f"  fetched         {total['requests']} requests to {len(fetch_hosts)} host(s): {total['ok']} ok, "
             f"{total['not_modified']} not modified (304), {total['failed']} failed",
             f"    {'host':<40}{'requests':>9}{'ok':>6}{'304':>6}{'failed':>8}"]
    ranked = sorted(fetch_hosts.items(), key=lambda kv: (-kv[1].get("requests", 0), kv[0]))
    for host, n in ranked[:20]:
        lines.append(f"    {host[:39]:<40}{n.get('requests', 0):>9}{n.get('ok', 0):>6}{n.get('not_modified', 0):>6}{n.get('failed', 0):>8}")
    if len(ranked) > 20:
        lines.append(f"    ... and {len(ranked) - 20} more hosts")
    return lines


def print_summary(row: dict, seconds: float, out, fetch_hosts: dict | None = None, status_text: str = "") -> None:
    """Print what the committed run `row` did: inputs = articles + rejects, copies, stories, fetches, rejects."""
    skipped = row.get("skipped_file_count") or 0
    lines = [
        "",
        f"run {row['run_id']} finished in {seconds:.1f}s",
        f"  files read      {row['file_count']}" + (f"  ({skipped} skipped: read by earlier runs)" if skipped else ""),
        f"  inputs          {row['input_count']}  = {row['article_count']} articles + {row['reject_count']} rejects",
        f"  articles        {row['article_count']}  ({row['unique_article_count']} unique, "
        f"{row['exact_duplicate_count']} exact copies, {row['near_duplicate_count']} near copies)",
    ]
    if row.get("earlier_copy_count"):
        lines.append(f"                  {row['earlier_copy_count']} of the copies are of articles earlier runs wrote")
    lines.append(f"  stories         {row['story_count']}"
                 + (f"  ({row['continued_story_count']} continue stories of earlier runs)" if row.get("continued_story_count") else ""))
    if fetch_hosts:
        lines.extend(_fetch_lines(fetch_hosts))
    lines.append(f"  rejects         {row['reject_count']}")
    lines.extend(f"    {reason:<22}{n}" for reason, n in row["rejects_by_reason"])
    if row.get("status") and row["status"] != "ok":
        lines.append(f"  status          {row['status']}: {status_text} (exit {EXIT_CODES[row['status']]})")
    lines.append(f"  tables          {row['output']}/{{articles,stories,rejects,runs}}/")
    lines.append("")
    lines.append(f"query with: newsbeam sql --output {row['output']} \"SELECT title, story_id FROM articles WHERE run_id = '{row['run_id']}'\"")
    out.write("\n".join(lines) + "\n")
    out.flush()
