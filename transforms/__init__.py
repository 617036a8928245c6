"""Beam transforms of newsbeam: pure functions first, then a thin DoFn and one composite per stage."""
