"""A subject's data: sealed in bronze under their own key, exported on request, erased provably."""
