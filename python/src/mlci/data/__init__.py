"""Data files: reading them (CSV, Parquet, JSON lines, a folder of batches) with errors that name
the file, and suggesting a starting expectation suite from a reference dataset."""
