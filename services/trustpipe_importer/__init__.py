"""Importer workers: scored objects announced on SQS, loaded idempotently into PostgreSQL."""
