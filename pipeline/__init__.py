"""The newsbeam pipeline: options, the run plan, stage wiring, commit, views and the command line."""

__version__ = "0.1.0"
