"""Reading what earlier runs wrote (their tables or `_state/` files) inside a pipeline."""
from __future__ import annotations

import apache_beam as beam


class ReadEarlierState(beam.PTransform):
    """PBegin -> what `fn(readable_file, *args)` yields for each file matching `glob` (earlier runs' tables or
    state; no match is no rows). The files are matched when the pipeline runs, not when it is built."""

    def __init__(self, glob: str, fn, *args):
        super().__init__()
        self.glob, self.fn, self.args = glob, fn, args

    def expand(self, pbegin):
        from apache_beam.io import fileio
        from apache_beam.io.fileio import EmptyMatchTreatment

        return (
            pbegin
            | "Glob" >> beam.Create([self.glob])
            | "Match" >> fileio.MatchAll(EmptyMatchTreatment.ALLOW)
            | "Read" >> fileio.ReadMatches()
            | "Rows" >> beam.FlatMap(self.fn, *self.args)
        )
