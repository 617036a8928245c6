"""The `newsbeam` command line, run as a user runs it (a subprocess)."""
import pathlib
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent


def newsbeam(*args, cwd=ROOT):
    return subprocess.run([sys.executable, "-m", "pipeline", *args], cwd=cwd, capture_output=True, text=True, timeout=300)


def test_run_help_explains_every_option():
    res = newsbeam("run", "--help")
    assert res.returncode == 0
    for option in ("--input", "--output", "--run_id", "--max_input_bytes", "--near_threshold", "--story_threshold",
                   "--story_window_days", "--learn_min_articles", "--runner"):
        assert option in res.stdout, option


def test_unknown_command_and_missing_input_fail_clearly():
    res = newsbeam("frobnicate")
    assert res.returncode == 2 and "unknown command" in res.stderr
    res = newsbeam("run", "--output", "/tmp/nowhere")
    assert res.returncode == 2 and "at least one --input" in res.stderr and "Traceback" not in res.stderr


def test_run_then_sql(tmp_path):
    out = tmp_path / "out"
    res = newsbeam("run", "--input", str(ROOT / "seeds"), "--output", str(out))
    assert res.returncode == 0, res.stderr
    assert "inputs          3  = 3 articles + 0 rejects" in res.stdout
    assert "apitools" not in res.stderr
    res = newsbeam("sql", "--output", str(out), "SELECT count(*) AS n, count(DISTINCT story_id) AS stories FROM articles")
    assert res.returncode == 0, res.stderr
    assert [line.split() for line in res.stdout.splitlines()] == [["n", "stories"], ["-", "-------"], ["3", "1"], ["(1", "row)"]]
    res = newsbeam("sql", "--output", str(out), "--format", "csv", "SELECT count(*) AS n FROM stories")
    assert res.stdout.splitlines() == ["n", "1"]
    res = newsbeam("sql", "--output", str(out), "SELECT nope FROM articles")
    assert res.returncode == 1 and "nope" in res.stderr and "Traceback" not in res.stderr


def test_a_page_without_text_is_a_reject_not_a_library_warning(tmp_path):
    pages = tmp_path / "pages"
    pages.mkdir()
    (pages / "empty.html").write_text("<html> <head> <title> ERROR </title> </head> <body> </body> </html>")
    res = newsbeam("run", "--input", str(pages), "--output", str(tmp_path / "out"))
    assert res.returncode == 0, res.stderr
    assert "inputs          1  = 0 articles + 1 rejects" in res.stdout and "extraction_failed     1" in res.stdout
    assert "discarding data" not in res.stderr, res.stderr
