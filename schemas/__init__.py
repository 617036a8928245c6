"""Typed records, the reject vocabulary, explicit Parquet schemas and the output layout: the bottom layer of newsbeam."""
