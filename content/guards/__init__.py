"""Guard rails on what a text will do on air: how long it will last, and words that go stale when it repeats."""
