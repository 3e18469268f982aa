"""Named automation conditions: when gold materializes by itself.

A gold partition runs when one of its silver partitions was updated since it last ran (or it is new and
missing), none of its silver partitions is being written, and every blocking check on them passed (across
runs: a silver hour whose checks failed holds its gold back until a re-run passes). There is no window: an
update to an hour of any age, a late event or a backfill, reaches the gold partitions above it.

An hourly mart waits for all of its hour's silver tables. A daily or weekly mart is built from the hours
present (it records how many, `completeness`) and rebuilt as more arrive, so a day with an hour that never
comes is still built, and says it is partial.
"""

import dagster as dg

AC = dg.AutomationCondition


def _updated_since_handled() -> dg.AutomationCondition:
    return (
        (AC.newly_missing() | AC.any_deps_updated())
        .since_last_handled()
        .with_label("missing, or silver updated since last handled")
    )


def _not_busy() -> dg.AutomationCondition:
    return ~AC.any_deps_in_progress() & ~AC.in_progress()


def _present_hours_checked() -> dg.AutomationCondition:
    """No silver hour that exists has a blocking check not passed (nor being requested now). Written as "no
    dependency partition fails" because `all_deps_match` holds when any one partition of each dependency
    matches, which for a day of 24 hours would let 23 failed hours through."""
    passed = AC.all_checks_match(AC.check_passed() | AC.will_be_requested(), blocking_only=True)
    return (~AC.any_deps_match(~AC.missing() & ~passed)).with_label(
        "present silver hours passed their checks"
    )


def gold_condition(cadence: str) -> dg.AutomationCondition:
    if cadence == "hourly":
        return (
            _updated_since_handled()
            & ~AC.any_deps_missing()
            & _not_busy()
            & AC.all_deps_blocking_checks_passed()
        ).with_label("silver of the hour updated, complete, checks passed")
    return (
        _updated_since_handled()
        & AC.any_deps_match(~AC.missing()).with_label("some silver hour present")
        & _not_busy()
        & _present_hours_checked()
    ).with_label(f"silver of the {'day' if cadence == 'daily' else 'week'} updated, checks passed")


def gold_automation_sensor() -> dg.AutomationConditionSensorDefinition:
    return dg.AutomationConditionSensorDefinition(
        "gold_automation",
        target=dg.AssetSelection.groups("gold"),
        default_status=dg.DefaultSensorStatus.RUNNING,
        minimum_interval_seconds=30,
        description="Materializes gold marts when their silver inputs change and pass their blocking checks.",
    )
