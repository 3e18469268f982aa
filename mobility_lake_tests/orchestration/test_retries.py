"""A step that meets a transient storage error is tried again after a pause; a data error fails at once."""

import dagster as dg
import pytest
from deltalake.exceptions import CommitFailedError

from mobility_lake.orchestration import retries


def flaky_asset(errors: list[Exception]) -> dg.AssetsDefinition:
    """An asset whose first tries raise the given errors, one a try, then succeeds."""
    tries: list[int] = []

    @dg.asset
    def flaky(context: dg.AssetExecutionContext) -> dg.MaterializeResult:
        tries.append(context.retry_number)
        with retries.retry_transient(context):
            if len(tries) <= len(errors):
                raise errors[len(tries) - 1]
        return dg.MaterializeResult(metadata={"tries": len(tries)})

    return flaky


@pytest.fixture(autouse=True)
def short_waits(monkeypatch):
    monkeypatch.setattr(retries, "FIRST_WAIT_SECONDS", 0.05)


def test_transient_errors_are_retried_until_the_step_succeeds():
    asset = flaky_asset([OSError("connection reset"), CommitFailedError("lost the race")])
    with dg.instance_for_test() as instance:
        result = dg.materialize([asset], instance=instance)
    assert result.success
    (event,) = result.get_asset_materialization_events()
    assert event.materialization.metadata["tries"].value == 3


def test_retries_stop_after_the_last_attempt():
    asset = flaky_asset([OSError("down")] * (retries.MAX_RETRIES + 1))
    with dg.instance_for_test() as instance:
        result = dg.materialize([asset], instance=instance, raise_on_error=False)
    assert not result.success


def test_a_data_error_is_not_retried():
    asset = flaky_asset([ValueError("a bad row")])
    with dg.instance_for_test() as instance:
        result = dg.materialize([asset], instance=instance, raise_on_error=False)
    assert not result.success
    assert len(result.filter_events(lambda e: e.event_type_value == "STEP_UP_FOR_RETRY")) == 0
