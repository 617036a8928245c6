"""Write stage: the run's tables and the state later runs compare with, staged as Parquet with explicit schemas."""
from transforms.write.state import WriteRunState
from transforms.write.tables import WriteTables, count_keys

__all__ = ["WriteRunState", "WriteTables", "count_keys"]
