"""Operations: backups and restores (`loa backup` / `loa restore`), Prometheus metrics (`/metrics`).

See docs/operations.md."""
