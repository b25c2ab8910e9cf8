"""Storage: the write-ahead log, memory partitions, sealed Parquet files and the catalog."""
