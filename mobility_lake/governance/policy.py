"""The access policy of CONTRACT §7, in one place: which layers and tables each role reads, and which columns
it sees masked. The query layer enforces it (`query.py`); `iam.py` turns the same matrix into storage
policies; docs/governance.md shows it.

A layer maps to ALL (every table), NONE, or the tuple of tables the role reads.
"""

ALL = "all"
NONE = "none"

ROLES: dict[str, dict[str, str | tuple[str, ...]]] = {
    "data_scientist": {"bronze": NONE, "silver": ALL, "gold": ALL},
    "ml_engineer": {"bronze": NONE, "silver": ALL, "gold": ALL},
    "analyst": {"bronze": NONE, "silver": NONE, "gold": ALL},
    "operations": {"bronze": NONE, "silver": ("vehicle_telemetry", "booking_events"), "gold": ALL},
    "admin": {"bronze": ALL, "silver": ALL, "gold": ALL},
}
# Layers only `admin` reads: rejected rows (raw lines) and the audit trail, and the cold archive of bronze.
ADMIN_ONLY_LAYERS = ("quarantine", "audit", "archive")
UNMASKED_ROLES = ("admin",)
# Columns holding e-mail or phone (silver holds them as keyed masks; other roles see them masked again).
MASKED_COLUMNS = ("email", "phone")
MASK = "[masked]"


def may_read(role: str, layer: str, table: str) -> bool:
    """Whether `role` may read `layer.table`."""
    if layer in ADMIN_ONLY_LAYERS:
        return role == "admin"
    grant = ROLES[role].get(layer, NONE)
    return grant == ALL or (isinstance(grant, tuple) and table in grant)


def sees_masked(role: str) -> bool:
    return role not in UNMASKED_ROLES
