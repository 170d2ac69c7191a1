"""Persistent background jobs with leases, retries and backoff; an in-process worker thread."""
