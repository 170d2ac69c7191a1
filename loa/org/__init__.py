"""Organisation: province → commune (a station) → village (a zone) → device (a loudspeaker cluster)."""
