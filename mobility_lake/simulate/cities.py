"""The cities the fleet operates in: where, in which currency, with which district grid and climate.

One table drives the simulator and the reference data (zones.geojson, fx_rates.csv), so a simulated city
always has zones and an exchange rate, and its fares are always in the currency the rates cover.
"""

from dataclasses import dataclass

HOUR_MS = 3_600_000


@dataclass(frozen=True)
class City:
    """An operating city. The zone grid covers `bbox`; rows run north to south, columns west to east."""

    name: str
    code: str
    currency: str
    locale: str
    phone_pattern: str  # '#' is a random digit
    centre: tuple[float, float]  # lat, lon
    grid: tuple[int, int]  # rows, cols
    cell: tuple[float, float]  # degrees lat, lon
    districts: tuple[str, ...]
    fleet_share: float
    climate: tuple[float, float]  # annual mean and seasonal amplitude, °C
    price_level: float  # local prices relative to Berlin, after currency conversion
    utc_offset_h: int = 1

    @property
    def bbox(self) -> tuple[float, float, float, float]:
        """south, west, north, east of the zone grid."""
        rows, cols = self.grid
        lat, lon = self.centre
        return (
            lat - rows * self.cell[0] / 2,
            lon - cols * self.cell[1] / 2,
            lat + rows * self.cell[0] / 2,
            lon + cols * self.cell[1] / 2,
        )

    def zone_id(self, index: int) -> str:
        return f"{self.code}-{index + 1:02d}"


# fmt: off
CITIES: tuple[City, ...] = (
    City(
        name="Berlin", code="BER", currency="EUR", locale="de-DE", phone_pattern="+49 30 #######",
        centre=(52.515, 13.395), grid=(3, 3), cell=(0.030, 0.050),
        districts=("Moabit", "Wedding", "Prenzlauer Berg", "Tiergarten", "Mitte", "Friedrichshain",
                   "Schöneberg", "Kreuzberg", "Neukölln"),
        fleet_share=0.24, climate=(10.0, 9.5), price_level=1.0,
    ),
    City(
        name="Paris", code="PAR", currency="EUR", locale="fr-FR", phone_pattern="+33 6 ## ## ## ##",
        centre=(48.862, 2.343), grid=(3, 3), cell=(0.022, 0.034),
        districts=("Batignolles", "Montmartre", "Belleville", "Champs-Élysées", "Louvre", "Le Marais",
                   "Montparnasse", "Quartier Latin", "Bercy"),
        fleet_share=0.22, climate=(12.5, 8.0), price_level=1.05,
    ),
    City(
        name="Warsaw", code="WAW", currency="PLN", locale="pl-PL", phone_pattern="+48 5## ### ###",
        centre=(52.232, 21.010), grid=(3, 3), cell=(0.025, 0.040),
        districts=("Żoliborz", "Muranów", "Praga-Północ", "Wola", "Śródmieście", "Praga-Południe",
                   "Ochota", "Mokotów", "Saska Kępa"),
        fleet_share=0.15, climate=(8.8, 10.5), price_level=0.75,
    ),
    City(
        name="Prague", code="PRG", currency="CZK", locale="cs-CZ", phone_pattern="+420 6## ### ###",
        centre=(50.080, 14.435), grid=(2, 4), cell=(0.022, 0.035),
        districts=("Dejvice", "Holešovice", "Karlín", "Žižkov", "Smíchov", "Nové Město", "Vinohrady", "Strašnice"),
        fleet_share=0.13, climate=(9.3, 9.5), price_level=0.8,
    ),
    City(
        name="Copenhagen", code="CPH", currency="DKK", locale="da-DK", phone_pattern="+45 2# ## ## ##",
        centre=(55.680, 12.570), grid=(2, 3), cell=(0.020, 0.045),
        districts=("Frederiksberg", "Nørrebro", "Østerbro", "Vesterbro", "Indre By", "Christianshavn"),
        fleet_share=0.12, climate=(9.0, 8.0), price_level=1.25,
    ),
    City(
        name="Stockholm", code="STO", currency="SEK", locale="sv-SE", phone_pattern="+46 70 ### ## ##",
        centre=(59.330, 18.065), grid=(3, 3), cell=(0.016, 0.040),
        districts=("Vasastan", "Norrmalm", "Östermalm", "Kungsholmen", "Gamla Stan", "Djurgården",
                   "Hornstull", "Södermalm", "Hammarby Sjöstad"),
        fleet_share=0.14, climate=(7.5, 10.0), price_level=1.1,
    ),
)
# fmt: on

# 1 unit = this many EUR around 2025-2026: the anchor of fx_rates.csv and of the simulated local prices.
FX_ANCHOR = {"EUR": 1.0, "PLN": 0.2340, "CZK": 0.03985, "DKK": 0.13405, "SEK": 0.0875}
# relative size of the slow drift of each rate (the krone is pegged to the euro, so it barely moves)
FX_DRIFT = {"EUR": 0.0, "PLN": 0.03, "CZK": 0.02, "DKK": 0.0015, "SEK": 0.04}

assert all(len(c.districts) == c.grid[0] * c.grid[1] for c in CITIES), "one district name per grid cell"
assert {c.currency for c in CITIES} <= set(FX_ANCHOR), "every city's currency has an fx anchor"
