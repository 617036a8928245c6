"""Write stage: the run's tables and the state later runs compare with, staged as Parquet with explicit schemas."""
from transforms.write.tables import WriteTables, count_keys

__all__ = ["WriteTables", "count_keys"]
