"""Backup and restore jobs behind ``mirror backup`` / ``mirror restore``: the S3 connectors run in-process."""
