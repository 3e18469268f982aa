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


CITIES: tuple[City, ...] = (
    City(
        "Berlin", "BER", "EUR", "de-DE", "+49 30 #######", (52.515, 13.395), (3, 3), (0.030, 0.050),
        ("Moabit", "Wedding", "Prenzlauer Berg", "Tiergarten", "Mitte", "Friedrichshain",
         "Schöneberg", "Kreuzberg", "Neukölln"),
        0.24, (10.0, 9.5), 1.0,
    ),
    City(
        "Paris", "PAR", "EUR", "fr-FR", "+33 6 ## ## ## ##", (48.862, 2.343), (3, 3), (0.022, 0.034),
        ("Batignolles", "Montmartre", "Belleville", "Champs-Élysées", "Louvre", "Le Marais",
         "Montparnasse", "Quartier Latin", "Bercy"),
        0.22, (12.5, 8.0), 1.05,
    ),
    City(
        "Warsaw", "WAW", "PLN", "pl-PL", "+48 5## ### ###", (52.232, 21.010), (3, 3), (0.025, 0.040),
        ("Żoliborz", "Muranów", "Praga-Północ", "Wola", "Śródmieście", "Praga-Południe",
         "Ochota", "Mokotów", "Saska Kępa"),
        0.15, (8.8, 10.5), 0.75,
    ),
    City(
        "Prague", "PRG", "CZK", "cs-CZ", "+420 6## ### ###", (50.080, 14.435), (2, 4), (0.022, 0.035),
        ("Dejvice", "Holešovice", "Karlín", "Žižkov", "Smíchov", "Nové Město", "Vinohrady", "Strašnice"),
        0.13, (9.3, 9.5), 0.8,
    ),
    City(
        "Copenhagen", "CPH", "DKK", "da-DK", "+45 2# ## ## ##", (55.680, 12.570), (2, 3), (0.020, 0.045),
        ("Frederiksberg", "Nørrebro", "Østerbro", "Vesterbro", "Indre By", "Christianshavn"),
        0.12, (9.0, 8.0), 1.25,
    ),
    City(
        "Stockholm", "STO", "SEK", "sv-SE", "+46 70 ### ## ##", (59.330, 18.065), (3, 3), (0.016, 0.040),
        ("Vasastan", "Norrmalm", "Östermalm", "Kungsholmen", "Gamla Stan", "Djurgården",
         "Hornstull", "Södermalm", "Hammarby Sjöstad"),
        0.14, (7.5, 10.0), 1.1,
    ),
)
CITIES_BY_NAME = {city.name: city for city in CITIES}

# 1 unit = this many EUR around 2025-2026: the anchor of fx_rates.csv and of the simulated local prices.
FX_ANCHOR = {"EUR": 1.0, "PLN": 0.2340, "CZK": 0.03985, "DKK": 0.13405, "SEK": 0.0875}
# relative size of the slow drift of each rate (the krone is pegged to the euro, so it barely moves)
FX_DRIFT = {"EUR": 0.0, "PLN": 0.03, "CZK": 0.02, "DKK": 0.0015, "SEK": 0.04}

assert all(len(c.districts) == c.grid[0] * c.grid[1] for c in CITIES), "one district name per grid cell"
assert {c.currency for c in CITIES} <= set(FX_ANCHOR), "every city's currency has an fx anchor"
