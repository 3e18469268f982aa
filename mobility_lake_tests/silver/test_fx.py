"""Amounts convert to EUR at the rate a finance team would pick, and a bad rates file stops the run."""

import csv
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path

import polars as pl
import pytest

from mobility_lake.silver.fx import REFERENCE_FX, load_fx_rates, to_eur

# Friday 2025-03-07 and Monday 2025-03-10 have PLN rates; the weekend between has none. CZK stops on Friday.
RATES = """date,currency,eur_rate
2025-03-07,CZK,0.04
2025-03-07,PLN,0.25
2025-03-10,PLN,0.26
"""


def write_rates(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


@pytest.fixture
def rates(tmp_path: Path) -> pl.DataFrame:
    return load_fx_rates(write_rates(tmp_path / "fx_rates.csv", RATES))


def convert(
    rows: list[tuple], rates: pl.DataFrame, on_type: pl.DataType = pl.Date, **kwargs
) -> list[float | None]:
    frame = pl.DataFrame(
        rows, schema={"amount": pl.Float64, "currency": pl.String, "at": on_type}, orient="row"
    )
    result = to_eur(frame, "amount", "currency", "at", "amount_eur", rates, **kwargs)
    assert result.columns == ["amount", "currency", "at", "amount_eur"]
    assert result.drop("amount_eur").equals(frame)  # same rows, same order
    return result["amount_eur"].to_list()


def real_rate(day: str, currency: str) -> float:
    with REFERENCE_FX.open() as handle:
        return next(
            float(r["eur_rate"])
            for r in csv.DictReader(handle)
            if (r["date"], r["currency"]) == (day, currency)
        )


def test_eur_stays_the_same_amount_even_on_days_the_file_does_not_cover():
    assert convert([(12.5, "EUR", date(2025, 3, 3)), (7.0, "EUR", date(2031, 1, 1))], load_fx_rates()) == [
        12.5,
        7.0,
    ]


def test_pln_converts_at_that_days_rate_from_the_reference_file():
    moments = [
        (100.0, "PLN", datetime(2025, 3, 3, 0, 0, tzinfo=UTC)),
        (100.0, "PLN", datetime(2025, 3, 3, 23, 59, 59, tzinfo=UTC)),
        (40.0, "SEK", datetime(2026, 7, 1, 12, 0, tzinfo=UTC)),
    ]

    result = convert(moments, load_fx_rates(), pl.Datetime("us", "UTC"))

    assert result == pytest.approx(
        [
            100 * real_rate("2025-03-03", "PLN"),
            100 * real_rate("2025-03-03", "PLN"),
            40 * real_rate("2026-07-01", "SEK"),
        ]
    )


def test_weekend_uses_the_last_rate_before_it_and_monday_its_own(rates):
    days = [date(2025, 3, 7), date(2025, 3, 8), date(2025, 3, 9), date(2025, 3, 10), date(2025, 3, 11)]
    assert convert([(100.0, "PLN", d) for d in days], rates) == pytest.approx([25.0, 25.0, 25.0, 26.0, 26.0])


def test_the_day_of_a_timestamp_is_its_utc_day(rates):
    warsaw = timezone(timedelta(hours=1))
    moments = [(100.0, "PLN", datetime(2025, 3, 10, 0, 30, tzinfo=warsaw))]  # still Sunday in UTC
    assert convert(moments, rates, pl.Datetime("us", "Europe/Warsaw")) == pytest.approx([25.0])


def test_a_rate_older_than_max_age_gives_null(rates):
    rows = [
        (10.0, "CZK", date(2025, 3, 14)),
        (10.0, "CZK", date(2025, 3, 15)),
        (10.0, "PLN", date(2025, 3, 6)),
    ]
    assert convert(rows, rates) == pytest.approx(
        [0.4, None, None]
    )  # 7 days old qualifies, 8 and "before" do not
    assert convert(rows[:1] + [(10.0, "CZK", date(2025, 3, 9))], rates, max_age_days=2) == pytest.approx(
        [None, 0.4]
    )


def test_unknown_or_missing_currency_and_missing_values_give_null_in_place(rates):
    rows = [
        (10.0, "PLN", date(2025, 3, 10)),
        (10.0, "USD", date(2025, 3, 10)),
        (10.0, "pln", date(2025, 3, 10)),
        (10.0, None, date(2025, 3, 10)),
        (None, "PLN", date(2025, 3, 10)),
        (10.0, "PLN", None),
        (10.0, "PLN", date(2025, 3, 8)),
    ]
    assert convert(rows, rates) == pytest.approx([2.6, None, None, None, None, None, 2.5])


def test_loaded_rates_are_typed_sorted_and_cached(tmp_path):
    shuffled = write_rates(
        tmp_path / "shuffled.csv", "date,currency,eur_rate\n2025-03-10,PLN,0.26\n2025-03-07,PLN,0.25\n"
    )

    rates = load_fx_rates(shuffled)

    assert rates.schema == pl.Schema({"date": pl.Date, "currency": pl.String, "eur_rate": pl.Float64})
    assert rates["date"].to_list() == [date(2025, 3, 7), date(2025, 3, 10)]
    assert load_fx_rates(shuffled) is rates
    real = load_fx_rates()
    assert real.height > 0 and real.equals(real.sort("date", "currency"))


BAD_ROWS = {
    "zero rate": ("2025-03-11,PLN,0", "bad eur_rate '0'"),
    "negative rate": ("2025-03-11,PLN,-0.25", "bad eur_rate '-0.25'"),
    "rate not a number": ("2025-03-11,PLN,abc", "bad eur_rate 'abc'"),
    "impossible date": ("2025-02-30,PLN,0.25", "bad date '2025-02-30'"),
    "date in another format": ("11/03/2025,PLN,0.25", "bad date '11/03/2025'"),
    "lower-case code": ("2025-03-11,pln,0.25", "bad currency code 'pln'"),
    "two-letter code": ("2025-03-11,PL,0.25", "bad currency code 'PL'"),
    "missing field": ("2025-03-11,PLN", "expected 3 fields"),
    "euro not one": ("2025-03-11,EUR,0.99", "eur_rate of EUR must be 1.0"),
    "duplicate": ("2025-03-07,PLN,0.25", "duplicate rate for PLN on 2025-03-07 \\(first given on line 3\\)"),
}


@pytest.mark.parametrize("row, problem", BAD_ROWS.values(), ids=BAD_ROWS.keys())
def test_a_bad_row_is_rejected_naming_file_and_line(row, problem, tmp_path):
    path = write_rates(tmp_path / "fx_rates.csv", RATES + row + "\n")
    with pytest.raises(ValueError, match=f"line 5: {problem}") as raised:
        load_fx_rates(path)
    assert str(path) in str(raised.value)


def test_a_file_without_the_header_is_rejected(tmp_path):
    path = write_rates(tmp_path / "fx_rates.csv", "2025-03-07,PLN,0.25\n")
    with pytest.raises(ValueError, match="line 1: expected the header 'date,currency,eur_rate'"):
        load_fx_rates(path)
