"""Two materializes at once, of the same hours and of overlapping hours, on one lake and one Dagster
instance (two users, or a user and the daemon): both succeed, and the lake ends as one run without a
rival leaves it (CONTRACT §5): every landed line once in bronze, no identity twice in silver, silver +
quarantine + duplicates = bronze, no file that no commit refers to, the same table contents.

With overlapping hours the second ingests later hours before the first ingests the earliest, so a
redelivered event may keep a later-landed copy than in the reference (the first copy by ingestion batch
stays, docs/silver.md): there the comparison leaves out which copy a row came from, and checks instead
that it is the first to land. The second starts a random moment after the first, so that over races
their stages meet at different points; how long both were in the same stage is reported per race.
"""

import time
from collections import Counter
from datetime import timedelta

from mobility_lake_tests.faults import END, START, Materialize, Reference, fault_trials, trial_rng
from mobility_lake_tests.faults.lake_state import checksums, violations

RACES = 2  # one of each kind, about 13 s each
LAG = 0.8  # at most this many seconds between the two starts: bronze takes about a second
HOUR = timedelta(hours=1)
# (first's hours, second's hours, hours ingested in the reference's order)
KINDS = {
    "same hours": ((START, END), (START, END), True),
    "overlapping hours": ((START, END - HOUR), (START + HOUR, END), False),
}


def overlap(first: Materialize, second: Materialize) -> dict[str, float]:
    """Per stage, the seconds in which both materializes were in it."""
    spans = [
        {stage: (run.began + a, run.began + b) for stage, (a, b) in run.stage_spans().items()}
        for run in (first, second)
    ]
    both = {}
    for stage in spans[0].keys() & spans[1].keys():
        (a_start, a_end), (b_start, b_end) = spans[0][stage], spans[1][stage]
        both[stage] = round(max(0.0, min(a_end, b_end) - max(a_start, b_start)), 1)
    return both


def test_concurrent_materializes_of_the_same_and_of_overlapping_hours(
    reference: Reference, fresh_lake, tmp_path
):
    races = fault_trials(RACES)
    kinds, problems, began = Counter(), [], time.monotonic()
    for race in range(races):
        seed, rng = trial_rng("race", race)
        kind = list(KINDS)[race % len(KINDS)]
        root, home = fresh_lake(f"lake-{race}"), tmp_path / f"home-{race}"
        home.mkdir()  # new: both runs create its instance at once
        (first_hours, second_hours, in_order), lag = KINDS[kind], rng.uniform(0, LAG)
        runs = [Materialize.start(root, home, *first_hours, name="first")]
        time.sleep(lag)
        runs.append(Materialize.start(root, home, *second_hours, name="second"))
        context = f"seed {seed}, {kind}, second {lag:.2f} s after the first"
        try:
            failed = [run for run in runs if run.finish() != 0]
        finally:
            for run in runs:
                run.stop()
        problems += [
            f"{context}: {r.log.name} failed: {r.lines[-3:]}\n{r.log.read_text()[-2000:]}" for r in failed
        ]
        problems += [
            f"{context}: {p}" for p in violations(root, reference.root, same_ingestion_order=in_order)
        ]
        print(
            f"\nrace {race}: {context}; both in a stage at once (s) {overlap(*runs)}; lost commit races "
            f"retried {sum(run.log.read_text().count('lost a race') for run in runs)}; same copies kept as "
            f"the reference: {checksums(root) == checksums(reference.root)}"
        )
        kinds[kind] += 1
    print(f"\nraces: {races} ({dict(kinds)}) in {time.monotonic() - began:.0f} s")
    assert problems == [], "\n".join(problems)
