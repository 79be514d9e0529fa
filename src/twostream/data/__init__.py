"""Datasets: generation, ingest, video decoding, shards and TSN loading."""
