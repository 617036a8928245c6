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


def test_unknown_options_are_errors_with_a_suggestion_and_nothing_runs(tmp_path):
    for args, hint in ((("--outptu", "o2"), "did you mean --output?"), (("--only-neww",), "did you mean --only-new?"),
                       (("--language", "en"), "unknown option --language")):
        res = newsbeam("run", "--input", str(ROOT / "seeds"), *args, cwd=tmp_path)
        assert res.returncode == 2 and hint in res.stderr and "Traceback" not in res.stderr, res.stderr
        assert not (tmp_path / "out").exists() and not (tmp_path / "o2").exists()
    res = newsbeam("--version")
    assert res.returncode == 0 and res.stdout.startswith("newsbeam ")


def test_an_unquoted_glob_after_input_reads_every_file(tmp_path):
    seeds = sorted((ROOT / "seeds").glob("*.txt"))
    out = tmp_path / "out"
    res = newsbeam("run", "--input", *map(str, seeds), "--output", str(out))  # what the shell makes of seeds/*.txt
    assert res.returncode == 0, res.stderr
    assert "inputs          3  = 3 articles + 0 rejects" in res.stdout


def test_same_folder_spelled_three_ways_is_read_once(tmp_path):
    out = tmp_path / "out"
    res = newsbeam("run", "--input", "seeds", "--input", "./seeds/", "--input", str(ROOT / "seeds" / "*.txt"), "--output", str(out))
    assert res.returncode == 0, res.stderr
    assert "inputs          3  = 3 articles + 0 rejects" in res.stdout


def test_exit_status_says_when_every_input_failed(tmp_path):
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "a.pdf").write_bytes(b"%PDF-1.4")
    (bad / "b.txt").write_bytes(b"")
    res = newsbeam("run", "--input", str(bad), "--output", str(tmp_path / "out"))
    assert res.returncode == 3, res.stdout + res.stderr
    assert "status          all_sources_failed: every input failed to be read or fetched (2 of 2) (exit 3)" in res.stdout
    (bad / "c.txt").write_text(" ".join(["This is a sentence of an article that is long enough to be kept."] * 5), encoding="utf-8")
    res = newsbeam("run", "--input", str(bad), "--output", str(tmp_path / "out2"), "--max_failed_share", "0.5")
    assert res.returncode == 4 and "some_sources_failed" in res.stdout, res.stdout + res.stderr
    res = newsbeam("run", "--input", str(bad), "--output", str(tmp_path / "out3"))
    assert res.returncode == 0, res.stdout + res.stderr


def _interrupted_run(tmp_path, sig):
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    for i in range(40):
        for seed in (ROOT / "seeds").glob("*.txt"):
            (inbox / f"{i}-{seed.name}").write_text(seed.read_text(encoding="utf-8") + f"\nCopy {i}.\n", encoding="utf-8")
    out = tmp_path / "out"
    proc = subprocess.Popen([sys.executable, "-m", "pipeline", "run", "--input", str(inbox), "--output", str(out)],
                            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert proc.stdout.readline().startswith("newsbeam ")  # the run has planned and is starting its pipeline
    proc.send_signal(sig)
    stdout, stderr = proc.communicate(timeout=120)
    return proc.returncode, stdout, stderr, out


def test_ctrl_c_stops_with_one_line_and_commits_nothing(tmp_path):
    import signal

    code, stdout, stderr, out = _interrupted_run(tmp_path, signal.SIGINT)
    assert code == 130, stderr
    assert "Traceback" not in stderr and "interrupted; nothing of this run was committed" in stderr
    assert len([line for line in stderr.splitlines() if line.strip()]) <= 2, stderr
    assert not (out / "runs").exists()


def test_sigterm_stops_like_ctrl_c(tmp_path):
    import signal

    code, _, stderr, out = _interrupted_run(tmp_path, signal.SIGTERM)
    assert code == 130 and "Traceback" not in stderr, stderr
    assert not (out / "runs").exists()
