"""Bookings as the services report them: created → completed (or cancelled) → returned → paid.

Each trip of the fleet becomes one traced journey across topics, with the app sessions around it. Events
are produced trip by trip in creation order and handed out hour by hour (by event time), so a long run
only holds the hours still open in memory. Events outside the run's hours are dropped: a journey cut by
the window is cut as a real hourly window would cut it.
"""

from collections import defaultdict
from collections.abc import Iterator

from mobility_lake.simulate.app import AppActivity, Timed
from mobility_lake.simulate.cities import FX_ANCHOR, HOUR_MS
from mobility_lake.simulate.envelope import EventFactory, rfc3339
from mobility_lake.simulate.fleet import Trip
from mobility_lake.simulate.rng import generator
from mobility_lake.simulate.users import User, UserBook

DOMAIN, PAYMENT, APP = "domain.events", "payment.events", "customers.app_events"
BOOKINGS, PAYMENTS = "//booking-service", "//payment-service"
LOOKAHEAD_MS = 10 * 60_000  # app sessions open up to ~7 minutes before their booking
TARIFFS = {"scooter": (1.00, 0.22), "ebike": (1.00, 0.25), "car": (0.00, 0.36), "van": (1.50, 0.49)}  # EUR
PROMOS = ("WELCOME10", "SPRING25", "RIDE5", "STUDENT15", "WEEKEND20")
CANCEL_REASONS = (
    "user_cancelled",
    "vehicle_not_found",
    "battery_too_low",
    "reservation_expired",
    "payment_declined",
)


def fare(trip: Trip, promo: str | None) -> float:
    """The fare in the city's currency: unlock fee plus minutes at Berlin's EUR tariff, scaled by local price
    level and converted at the anchor rate; a promo code takes 15% off."""
    unlock, per_minute = TARIFFS[trip.vehicle.vehicle_type]
    city = trip.vehicle.city
    minutes = (trip.end_ms - trip.start_ms) / 60_000
    amount = (unlock + per_minute * minutes) * city.price_level / FX_ANCHOR[city.currency]
    return round(amount * (0.85 if promo else 1.0), 2)


class Journeys:
    def __init__(
        self, seed: int, start_ms: int, hours: int, trips: list[Trip], users: UserBook, fleet_size: int
    ):
        self.start_ms, self.hours, self.trips, self.users = start_ms, hours, trips, users
        self.factory = EventFactory(seed, start_ms)
        self.app = AppActivity(seed, start_ms, self.factory, users, fleet_size)
        self.rng = generator(seed, "journeys", start_ms)
        self.busy_until: dict[str, int] = {}
        self.buckets: dict[int, dict[str, list[Timed]]] = defaultdict(lambda: defaultdict(list))

    def by_hour(self) -> Iterator[tuple[int, dict[str, list[Timed]]]]:
        """(hour index, events of that hour per topic) for every hour of the run, in order."""
        pending = iter(self.trips)
        trip = next(pending, None)
        for hour_index in range(self.hours):
            horizon = self.start_ms + (hour_index + 1) * HOUR_MS + LOOKAHEAD_MS
            while trip is not None and trip.created_ms < horizon:
                self._journey(trip)
                trip = next(pending, None)
            self._put(APP, self.app.browsing(hour_index))
            self._put(APP, self.app.profile_updates(hour_index))
            yield hour_index, self.buckets.pop(hour_index, {})

    def _put(self, topic: str, events: Iterator[Timed] | list[Timed]) -> None:
        for time_ms, event in events:
            hour_index = (time_ms - self.start_ms) // HOUR_MS
            if 0 <= hour_index < self.hours:
                self.buckets[hour_index][topic].append((time_ms, event))

    def _emit(
        self, topic: str, source: str, short_type: str, time_ms: int, subject: str, data: dict, trace: str
    ) -> None:
        self._put(topic, [(time_ms, self.factory.event(source, short_type, time_ms, subject, data, trace))])

    def _customer(self, trip: Trip) -> User:
        for _ in range(4):  # one person rarely rides two vehicles at once
            user = self.users.pick(trip.vehicle.city, self.rng)
            if self.busy_until.get(user.user_id, 0) < trip.created_ms:
                break
        self.busy_until[user.user_id] = trip.end_ms or trip.created_ms
        return user

    def _journey(self, trip: Trip) -> None:
        rng, vehicle = self.rng, trip.vehicle
        user, trace, booking_id = (
            self._customer(trip),
            self.factory.trace_id(),
            "bk_" + self.factory.entity_id(),
        )
        promo = rng.choice(PROMOS) if rng.random() < 0.12 else None
        who = {"booking_id": booking_id, "user_id": user.user_id, "vehicle_id": vehicle.vehicle_id}
        what = {"vehicle_type": vehicle.vehicle_type, "city": vehicle.city.name}
        self._put(APP, self.app.before_booking(user, trip.created_ms, (trip.lat, trip.lon), trace))
        created = {**who, **what, "latitude": round(trip.lat, 6), "longitude": round(trip.lon, 6),
                   "promo_code": promo, "customer_segment": user.segment}  # fmt: skip
        self._emit(DOMAIN, BOOKINGS, "booking.created.v1", trip.created_ms, booking_id, created, trace)
        if trip.end_ms is None:
            cancelled = {**who, "reason": rng.choice(CANCEL_REASONS)}
            t = trip.created_ms + rng.randint(60_000, 15 * 60_000)
            self._emit(DOMAIN, BOOKINGS, "booking.cancelled.v1", t, booking_id, cancelled, trace)
            return
        amount, currency = fare(trip, promo), vehicle.city.currency
        completed = {**who, **what, "started_at": rfc3339(trip.start_ms), "ended_at": rfc3339(trip.end_ms),
                     "distance_km": trip.distance_km, "end_latitude": round(trip.end_lat, 6),
                     "end_longitude": round(trip.end_lon, 6), "fare_amount": amount, "currency": currency}  # fmt: skip
        t = trip.end_ms + rng.randint(300, 5_000)
        self._emit(DOMAIN, BOOKINGS, "booking.completed.v1", t, booking_id, completed, trace)
        docked = vehicle.vehicle_type in ("car", "van")
        returned = {**who, "bay_id": f"{vehicle.city.code}-BAY-{rng.randint(1, 120):03d}" if docked else None,
                    "latitude": round(trip.end_lat + rng.gauss(0, 0.00004), 6),
                    "longitude": round(trip.end_lon + rng.gauss(0, 0.00006), 6),
                    "photo_count": rng.randint(3, 6) if docked else rng.randint(1, 2),
                    "damage_reported": trip.damage_reported}  # fmt: skip
        t = trip.end_ms + rng.randint(20_000, 180_000)
        self._emit(DOMAIN, BOOKINGS, "return.completed.v1", t, booking_id, returned, trace)
        self._put(APP, self.app.after_trip(user, trip.end_ms, (trip.end_lat, trip.end_lon), trace))
        self._payments(booking_id, user, amount, currency, trip.end_ms, trace)

    def _payments(
        self, booking_id: str, user: User, amount: float, currency: str, end_ms: int, trace: str
    ) -> None:
        """Authorised and captured after the ride (the same payment); now and then refunded, fully or half."""
        rng, payment_id = self.rng, "pay_" + self.factory.entity_id()
        payment = {"payment_id": payment_id, "booking_id": booking_id, "user_id": user.user_id, "amount": amount,
                   "currency": currency, "method": user.method}  # fmt: skip
        t = end_ms + rng.randint(3_000, 20_000)
        # each event gets its own payload dict: a defect injected into one must not leak into another
        self._emit(PAYMENT, PAYMENTS, "payment.authorized.v1", t, payment_id, dict(payment), trace)
        t += rng.randint(1_000, 90_000)
        self._emit(PAYMENT, PAYMENTS, "payment.captured.v1", t, payment_id, dict(payment), trace)
        if rng.random() < 0.025:
            refund = {**payment, "amount": amount if rng.random() < 0.6 else round(amount / 2, 2)}
            t += rng.randint(10 * 60_000, 6 * HOUR_MS)
            self._emit(PAYMENT, PAYMENTS, "payment.refunded.v1", t, payment_id, refund, trace)
