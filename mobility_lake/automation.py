"""Named automation conditions: when gold materializes by itself.

A gold partition runs when one of its silver partitions was updated since it last ran, none is missing or
in progress, and every blocking check on them passed (across runs: a silver hour whose checks failed holds
its gold back until a re-run passes). Late data reaches gold because the condition looks back over the
lateness window, not only at the latest partition (Dagster's `eager()` alone does).
"""

from datetime import timedelta

import dagster as dg


def gold_condition(lookback: timedelta) -> dg.AutomationCondition:
    return (
        dg.AutomationCondition.eager().replace(
            "in_latest_time_window", dg.AutomationCondition.in_latest_time_window(lookback_delta=lookback)
        )
        & dg.AutomationCondition.all_deps_blocking_checks_passed()
    ).with_label(
        f"silver updated in the last {lookback.total_seconds() / 3600:.0f} h, complete, checks passed"
    )


def gold_automation_sensor() -> dg.AutomationConditionSensorDefinition:
    return dg.AutomationConditionSensorDefinition(
        "gold_automation",
        target=dg.AssetSelection.groups("gold"),
        default_status=dg.DefaultSensorStatus.RUNNING,
        minimum_interval_seconds=30,
        description="Materializes gold marts when their silver inputs change and pass their blocking checks.",
    )
