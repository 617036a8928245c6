"""The newsbeam pipeline: run options, stage wiring, the run/sql command line."""

__version__ = "0.1.0"
