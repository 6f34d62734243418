"""The weather side of the lake: raw Firehose objects -> flat daily Parquet -> daily stats."""
