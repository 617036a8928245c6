"""--format: every input file read as the named kind, whatever its extension (transforms/read/formats.py)."""
import gzip
import io
import json

import apache_beam as beam
import pytest
from apache_beam.testing.test_pipeline import TestPipeline
from apache_beam.testing.util import assert_that, equal_to

from pipeline.main import run
from pipeline.sql import connect
from transforms.read import ReadArticles
from transforms.read.formats import check_format, detect_format
from transforms.rejecting import REJECTS

RECORDS = [{"id": "r1", "title": "Harbour bridge reopens", "text": "The harbour bridge reopened on Monday after "
            "three weeks of repairs. Traffic moved freely by noon, the city said."},
           {"id": "r2", "title": "Council approves budget", "text": "The council approved next year's budget late "
            "on Tuesday. It raises spending on schools and roads, members said."}]


@pytest.mark.parametrize(
    "path, input_format, expected",
    [
        ("export.dat", "jsonl", ("jsonl", False)),
        ("export.dat.gz", "jsonl", ("jsonl", True)),
        ("notes.txt", "jsonl", ("jsonl", False)),  # the named kind wins over the extension
        ("page", "html", ("html", False)),
        ("crawl.arc.gz", "warc", ("warc", True)),
        ("README", "text", ("text", False)),
        ("export.dat", "auto", (None, False)),
        ("a.html", "auto", ("html", False)),
    ],
    ids=["dat-jsonl", "dat-gz", "txt-named-jsonl", "no-extension-html", "warc-gz", "text", "auto-unknown", "auto-html"],
)
def test_detect_format_with_a_named_kind(path, input_format, expected):
    assert detect_format(path, input_format) == expected


def test_an_unknown_format_is_refused():
    with pytest.raises(ValueError, match="input format"):
        check_format("pdf")
    with pytest.raises(ValueError):
        ReadArticles(["x"], input_format="csv")


def _write(tmp_path):
    lines = "\n".join(json.dumps(r) for r in RECORDS) + "\n"
    (tmp_path / "export.dat").write_text(lines)
    (tmp_path / "export2.dump.gz").write_bytes(gzip.compress(lines.encode()))
    return str(tmp_path)


def test_read_articles_reads_unnamed_files_as_the_given_format(tmp_path):
    d = _write(tmp_path)
    with TestPipeline() as p:
        out = p | ReadArticles([d + "/*"], input_format="jsonl")
        assert_that((out["files"], out["records"]) | beam.Flatten() | beam.Map(lambda a: (a.input_id, a.input_format)),
                    equal_to([("r1", "jsonl_text"), ("r2", "jsonl_text")] * 2), label="articles")
        assert_that(out[REJECTS], equal_to([]), label="rejects")
    with TestPipeline() as p:  # by default the same files are unsupported
        out = p | "Auto" >> ReadArticles([d + "/*"])
        assert_that(out[REJECTS] | beam.Map(lambda r: r.reason), equal_to(["unsupported_format"] * 2))


@pytest.mark.e2e
def test_format_option_end_to_end(tmp_path):
    (tmp_path / "in").mkdir()
    d = _write(tmp_path / "in")
    out_dir = tmp_path / "out"
    run(["--input", d + "/export.dat", "--format", "jsonl", "--output", str(out_dir), "--standalone"], out=io.StringIO())
    con = connect(str(out_dir))
    rows = con.sql("SELECT input_id, title, input_format FROM articles ORDER BY input_id").fetchall()
    assert rows == [("r1", "Harbour bridge reopens", "jsonl_text"), ("r2", "Council approves budget", "jsonl_text")]
    assert con.sql("SELECT count(*) FROM rejects").fetchall() == [(0,)]
    with pytest.raises(SystemExit):  # argparse: not one of the choices
        run(["--input", d, "--format", "pdf", "--output", str(tmp_path / "out2")], out=io.StringIO())
