"""Silver: typed, validated, deduplicated events in their event-time hour."""
