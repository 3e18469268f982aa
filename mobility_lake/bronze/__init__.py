"""Bronze: the immutable archive of every landed event, exactly as it arrived."""
