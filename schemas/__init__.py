"""Typed records and explicit Parquet schemas: the bottom layer of newsbeam."""
