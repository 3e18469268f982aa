"""Customers: pseudonymous ids with consistent fake personal data (name-based email, local phone number).

A user's profile comes from a generator keyed by (seed, user number) alone, so `u-000123` has the same
email, phone and habits in every run with that seed, whatever else changes. Emails use the reserved
example domains and phone numbers are random digits in the local format: realistic enough to exercise PII
masking, never a real person's data.
"""

import random
import unicodedata
from dataclasses import dataclass

from mobility_lake.events.catalogue import CUSTOMER_SEGMENTS, DEVICE_OSES, PAYMENT_METHODS
from mobility_lake.simulate.cities import CITIES, City
from mobility_lake.simulate.rng import generator

NAMES = {
    "de": (
        ("Anna", "Lukas", "Marie", "Felix", "Lena", "Jonas", "Sophie", "Paul", "Hannah", "Leon"),
        ("Müller", "Schmidt", "Schneider", "Fischer", "Weber", "Meyer", "Wagner", "Becker", "Hoffmann"),
    ),
    "fr": (
        ("Camille", "Louis", "Léa", "Hugo", "Chloé", "Lucas", "Manon", "Jules", "Inès", "Gabriel"),
        ("Martin", "Bernard", "Dubois", "Thomas", "Robert", "Richard", "Petit", "Durand", "Lefèvre"),
    ),
    "pl": (
        ("Zofia", "Jakub", "Maja", "Antoni", "Julia", "Jan", "Hanna", "Szymon", "Oliwia", "Filip"),
        ("Nowak", "Kowalski", "Wiśniewski", "Wójcik", "Kowalczyk", "Kamiński", "Lewandowski", "Zieliński"),
    ),
    "cs": (
        ("Tereza", "Jakub", "Eliška", "Jan", "Anna", "Tomáš", "Adéla", "Matyáš", "Natálie", "Vojtěch"),
        ("Novák", "Svoboda", "Novotný", "Dvořák", "Černý", "Procházka", "Kučera", "Veselý"),
    ),
    "da": (
        ("Freja", "William", "Alma", "Noah", "Ida", "Oscar", "Clara", "Carl", "Ella", "Magnus"),
        ("Nielsen", "Jensen", "Hansen", "Pedersen", "Andersen", "Christensen", "Larsen", "Sørensen"),
    ),
    "sv": (
        ("Alice", "William", "Maja", "Hugo", "Elsa", "Liam", "Astrid", "Oscar", "Saga", "Axel"),
        ("Andersson", "Johansson", "Karlsson", "Nilsson", "Eriksson", "Larsson", "Olsson", "Persson"),
    ),
    "en": (
        ("Emily", "James", "Olivia", "Jack", "Amelia", "Harry", "Sophia", "Noah", "Isla", "George"),
        ("Smith", "Jones", "Taylor", "Brown", "Williams", "Wilson", "Evans", "Walker", "Wright"),
    ),
}
TOURIST_LOCALES = ("en-GB", "en-US", "de-DE", "fr-FR", "it-IT", "es-ES", "nl-NL")
TOURIST_PHONES = (
    "+44 7700 900###",
    "+1 202 555 0###",
    "+39 3## ### ####",
    "+34 6## ### ###",
    "+31 6 ########",
)
DOMAINS = ("example.com", "example.org", "example.net", "mail.example.com")
APP_VERSIONS = ("5.12.1", "5.12.0", "5.11.4", "5.10.2", "4.9.8")


@dataclass(frozen=True)
class User:
    user_id: str
    city: City
    segment: str
    locale: str
    email: str
    phone: str
    device_os: str
    app_version: str
    method: str
    marketing_opt_in: bool
    shares_location: bool


def ascii_fold(text: str) -> str:
    """'Wiśniewski' -> 'wisniewski': emails are ASCII."""
    return "".join(c for c in unicodedata.normalize("NFKD", text) if c.isascii() and c.isalpha()).lower()


def fill(pattern: str, rng: random.Random) -> str:
    return "".join(str(rng.randrange(10)) if c == "#" else c for c in pattern)


def email_for(first: str, last: str, rng: random.Random) -> str:
    first, last = ascii_fold(first), ascii_fold(last)
    local = rng.choice(
        (
            f"{first}.{last[0]}{rng.randrange(10, 1000)}",
            f"{first}{last}{rng.randrange(70, 100)}",
            f"{first[0]}.{last}",
            f"{first}_{last}{rng.randrange(1, 10)}",
        )
    )
    return f"{local}@{rng.choice(DOMAINS)}"


class UserBook:
    """The user base of a run: `total` users, each living in a city by fleet share, some riding far more."""

    def __init__(self, seed: int, total: int):
        self.seed, self.total = seed, total
        self._users: dict[int, User] = {}
        self.by_city: dict[str, list[int]] = {city.name: [] for city in CITIES}
        for number in range(1, total + 1):
            self.by_city[self._home(generator(seed, "user", number)).name].append(number)

    @staticmethod
    def _home(rng: random.Random) -> City:
        return rng.choices(CITIES, [c.fleet_share for c in CITIES])[0]

    def pick(self, city: City, rng: random.Random) -> User:
        """A customer of `city` (any user when the city has none); low numbers are the frequent riders."""
        numbers = self.by_city[city.name] or list(self.everyone())
        return self.user(numbers[int(len(numbers) * rng.random() ** 2)])

    def everyone(self) -> range:
        return range(1, self.total + 1)

    def user(self, number: int) -> User:
        if number not in self._users:
            self._users[number] = self._make(number)
        return self._users[number]

    def _make(self, number: int) -> User:
        rng = generator(self.seed, "user", number)
        city = self._home(rng)
        segment = rng.choices(CUSTOMER_SEGMENTS, (0.4, 0.3, 0.15, 0.15))[0]
        if segment == "tourist":
            locale = rng.choice(TOURIST_LOCALES)
            phone = fill(rng.choice(TOURIST_PHONES), rng)
        else:
            locale = city.locale if rng.random() < 0.85 else "en-GB"
            phone = fill(city.phone_pattern, rng)
        firsts, lasts = NAMES.get(locale[:2], NAMES["en"])
        return User(
            user_id=f"u-{number:06d}",
            city=city,
            segment=segment,
            locale=locale,
            email=email_for(rng.choice(firsts), rng.choice(lasts), rng),
            phone=phone,
            device_os=rng.choices(DEVICE_OSES, (0.45, 0.48, 0.07))[0],
            app_version=rng.choices(APP_VERSIONS, (0.45, 0.25, 0.15, 0.1, 0.05))[0],
            method=rng.choices(PAYMENT_METHODS, (0.62, 0.28, 0.10))[0],
            marketing_opt_in=rng.random() < 0.35,
            shares_location=rng.random() < 0.85,
        )
