"""Ingestion: rows from an S3 object (CSV with a header, or JSON Lines) into a feature group.

`handler.py` is the Lambda entry point; `rows.py` reads an object into numbered rows,
`schema.py` checks each row against the group's definitions, `writer.py` sends valid rows with
PutRecord, and `ingest.py` puts them together and accounts for every row.
"""
