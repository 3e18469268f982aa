"""Who may read what (policy), the closed query engine's statement rules, the audit log, and retention."""
