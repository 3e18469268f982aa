"""Storage policies per role, from the same matrix the query layer enforces (`policy.py`).

The query layer is where roles are enforced for users of `mobility-lake query`. Anyone handed storage
credentials bypasses it, so in production each role's credentials should read only its layers' prefixes:
these AWS IAM policies (read-only; the pipeline's own identity writes) say exactly that. No role's policy
reaches `keys/` (the subject keys open bronze's sealed values), `landing/`, or `_locks/`.

    python -m mobility_lake.governance.iam s3://bucket/prefix    # prints one policy per role
"""

import json
import sys

from mobility_lake.governance.policy import ADMIN_ONLY_LAYERS, ALL, NONE, ROLES

READ_LAYERS = ("bronze", "silver", "gold", *ADMIN_ONLY_LAYERS)


def readable_prefixes(role: str) -> list[str]:
    """The lake-relative prefixes `role` may read: a layer, or one table of it."""
    prefixes = []
    for layer in READ_LAYERS:
        if layer in ADMIN_ONLY_LAYERS:
            grant = ALL if role == "admin" else NONE
        else:
            grant = ROLES[role].get(layer, NONE)
        if grant == ALL:
            prefixes.append(f"{layer}/")
        elif grant != NONE:
            prefixes += [f"{layer}/{table}/" for table in grant]
    return prefixes


def iam_policy(role: str, root: str) -> dict:
    """An IAM policy document letting `role` list and read its prefixes of the lake at `root` (s3://...)."""
    if not root.startswith("s3://"):
        raise ValueError(f"'{root}' is not an s3:// root: storage policies are for object storage")
    bucket, _, base = root.removeprefix("s3://").rstrip("/").partition("/")
    base = f"{base}/" if base else ""
    prefixes = [f"{base}{p}" for p in readable_prefixes(role)]
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "ListItsPrefixes",
                "Effect": "Allow",
                "Action": "s3:ListBucket",
                "Resource": f"arn:aws:s3:::{bucket}",
                "Condition": {"StringLike": {"s3:prefix": [f"{p}*" for p in prefixes]}},
            },
            {
                "Sid": "ReadItsTables",
                "Effect": "Allow",
                "Action": "s3:GetObject",
                "Resource": [f"arn:aws:s3:::{bucket}/{p}*" for p in prefixes],
            },
        ],
    }


def main(argv: list[str]) -> int:
    if len(argv) != 1 or not argv[0].startswith("s3://"):
        print("usage: python -m mobility_lake.governance.iam s3://bucket/prefix", file=sys.stderr)
        return 2
    print(json.dumps({role: iam_policy(role, argv[0]) for role in ROLES}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
