"""The customer app: sessions of interactions around bookings, browsing without booking, profile updates.

Sessions share the user ids of the bookings they lead to, so a customer journey (open, search, view,
book, ride, rate) can be followed across topics; coordinates come only from users who share location.
"""

import math
import random
from collections.abc import Iterator

from mobility_lake.simulate.cities import CITIES, HOUR_MS
from mobility_lake.simulate.envelope import EventFactory
from mobility_lake.simulate.rng import generator
from mobility_lake.simulate.users import NAMES, User, UserBook, email_for, fill
from mobility_lake.simulate.vehicles import place

APP_SOURCE = "//mobile-app"
SCREENS = {
    "app_open": "home",
    "search": "map",
    "view_vehicle": "vehicle_detail",
    "start_booking": "booking_confirm",
    "end_booking": "trip_summary",
    "rate_trip": "rating",
    "support_chat": "support",
}
Timed = tuple[int, dict]


def poisson(rng: random.Random, mean: float) -> int:
    """Knuth's method; the means here are small enough."""
    if mean > 50:
        return max(0, round(rng.gauss(mean, math.sqrt(mean))))
    limit, count, product = math.exp(-mean), 0, rng.random()
    while product > limit:
        count += 1
        product *= rng.random()
    return count


class AppActivity:
    """The app's events: one generator for the run, so sessions are reproducible in creation order."""

    def __init__(self, seed: int, start_ms: int, factory: EventFactory, users: UserBook, fleet_size: int):
        self.seed, self.start_ms, self.factory, self.users = seed, start_ms, factory, users
        self.fleet_size = fleet_size
        self.rng = generator(seed, "app", start_ms)

    def session(
        self, user: User, steps: list[tuple[str, int]], near: tuple[float, float] | None, trace: str
    ) -> list[Timed]:
        """One app session: the same session id on every step, coordinates near `near` if shared."""
        session_id = "s_" + self.factory.entity_id()
        located = near is not None and user.shares_location and user.device_os != "web"
        events = []
        for action, time_ms in steps:
            data = {
                "user_id": user.user_id,
                "session_id": session_id,
                "action": action,
                "screen": SCREENS[action],
                "device_os": user.device_os,
                "app_version": user.app_version,
                "locale": user.locale,
                "latitude": round(near[0] + self.rng.gauss(0, 0.0012), 6) if located else None,
                "longitude": round(near[1] + self.rng.gauss(0, 0.0018), 6) if located else None,
            }
            event = self.factory.event(APP_SOURCE, "app.interaction.v1", time_ms, session_id, data, trace)
            events.append((time_ms, event))
        return events

    def before_booking(
        self, user: User, created_ms: int, near: tuple[float, float], trace: str
    ) -> list[Timed]:
        """Open, search, look at vehicles, book: the session that ends in `booking.created`."""
        rng = self.rng
        t = created_ms - rng.randint(40_000, 6 * 60_000)
        steps = [("app_open", t)]
        for action in ["search"] * rng.randint(0, 2) + ["view_vehicle"] * rng.randint(1, 3):
            t += rng.randint(2_000, 45_000)
            steps.append((action, min(t, created_ms - 6_000)))
        steps.append(("start_booking", created_ms - rng.randint(800, 5_000)))
        return self.session(user, steps, near, trace)

    def after_trip(self, user: User, end_ms: int, near: tuple[float, float], trace: str) -> list[Timed]:
        """End the ride in the app, maybe rate it, rarely ask support."""
        rng = self.rng
        t = end_ms + rng.randint(1_500, 15_000)
        steps = [("end_booking", t)]
        if rng.random() < 0.4:
            steps.append(("rate_trip", t + rng.randint(5_000, 60_000)))
        if rng.random() < 0.03:
            steps.append(("support_chat", t + rng.randint(60_000, 300_000)))
        return self.session(user, steps, near, trace)

    def browsing(self, hour_index: int) -> Iterator[Timed]:
        """Sessions that end without a booking: open, look around, maybe ask support."""
        rng = self.rng
        hour_ms = self.start_ms + hour_index * HOUR_MS
        for city in CITIES:
            for _ in range(poisson(rng, 0.25 * self.fleet_size * city.fleet_share)):
                user = self.users.pick(city, rng)
                t = hour_ms + rng.randrange(HOUR_MS)
                steps = [("app_open", t)]
                for action in ["search"] * rng.randint(0, 2) + ["view_vehicle"] * rng.randint(0, 3):
                    t += rng.randint(2_000, 60_000)
                    steps.append((action, t))
                if rng.random() < 0.02:
                    steps.append(("support_chat", t + rng.randint(10_000, 120_000)))
                yield from self.session(user, steps, place(city, rng, outside=0.05), self.factory.trace_id())

    def profile_updates(self, hour_index: int) -> Iterator[Timed]:
        """Users saving their profile: mostly the stored contact data, sometimes a new email or phone."""
        rng = self.rng
        everyone = self.users.everyone()
        for _ in range(poisson(rng, max(0.5, 0.004 * len(everyone)))):
            user = self.users.user(rng.choice(everyone))
            t = self.start_ms + hour_index * HOUR_MS + rng.randrange(HOUR_MS)
            firsts, lasts = NAMES.get(user.locale[:2], NAMES["en"])
            email = (
                user.email if rng.random() < 0.7 else email_for(rng.choice(firsts), rng.choice(lasts), rng)
            )
            phone = user.phone if rng.random() < 0.8 else fill(user.city.phone_pattern, rng)
            data = {"user_id": user.user_id, "email": email, "phone": phone, "locale": user.locale,
                    "marketing_opt_in": user.marketing_opt_in != (rng.random() < 0.2)}  # fmt: skip
            trace = self.factory.trace_id()
            yield (
                t,
                self.factory.event(APP_SOURCE, "customer.profile_updated.v1", t, user.user_id, data, trace),
            )
