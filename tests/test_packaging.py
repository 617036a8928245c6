"""setup.py ships what a remote worker imports: every module of the four packages, stage packages included."""
import pathlib
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent
PACKAGES = ("newsbeam", "pipeline", "transforms", "schemas")


def _shipped_files(top: pathlib.Path) -> set[str]:
    return {str(p.relative_to(top)) for p in top.rglob("*") if p.is_file() and "__pycache__" not in p.parts
            and not p.name.endswith((".pyc", ".pyo"))}


def test_build_copies_every_module_and_data_file_of_the_packages(tmp_path):
    pytest.importorskip("setuptools")
    build = tmp_path / "lib"
    res = subprocess.run([sys.executable, "setup.py", "-q", "build_py", "--build-lib", str(build)], cwd=ROOT,
                         capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr
    source = {f"{p}/{f}" for p in PACKAGES for f in _shipped_files(ROOT / p)}
    built = {f"{p}/{f}" for p in PACKAGES for f in _shipped_files(build / p)}
    assert "transforms/clean/transform.py" in built and "transforms/stories/__init__.py" in built
    assert source - built == set()
