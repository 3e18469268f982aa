"""What every mart module promises the asset adapter, checked once for all."""

import pytest

from mobility_lake.gold.marts import MARTS


@pytest.mark.parametrize("mart", MARTS, ids=[m.name for m in MARTS])
def test_every_column_is_documented_and_the_key_is_made_of_columns(mart):
    module = mart.module
    assert list(module.DOCS) == list(module.COLUMNS)
    assert set(module.KEY) <= set(module.COLUMNS)
    assert list(module.SCHEMA.columns) == list(module.COLUMNS)
    assert module.SCHEMA.unique == list(module.KEY)
