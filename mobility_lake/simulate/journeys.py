"""Bookings as the services report them: created → completed (or cancelled) → returned → paid.

Each trip of the fleet becomes one traced journey across topics, with the app sessions around it. Events
are produced trip by trip in creation order and handed out hour by hour (by event time), so a long run
never holds more than the hours still open in memory.
"""

import random
from collections import defaultdict
from collections.abc import Iterator

from mobility_lake.simulate.app import AppActivity, Timed
from mobility_lake.simulate.cities import FX_ANCHOR, HOUR_MS
from mobility_lake.simulate.envelope import EventFactory, rfc3339
from mobility_lake.simulate.fleet import Trip
from mobility_lake.simulate.rng import generator
from mobility_lake.simulate.users import User, UserBook

DOMAIN, PAYMENT, APP = "domain.events", "payment.events", "customers.app_events"
LOOKAHEAD_MS = 10 * 60_000  # app sessions open up to ~7 minutes before their booking
# unlock fee and price per minute in EUR at Berlin prices
TARIFFS = {"scooter": (1.00, 0.22), "ebike": (1.00, 0.25), "car": (0.00, 0.36), "van": (1.50, 0.49)}
PROMOS = ("WELCOME10", "SPRING25", "RIDE5", "STUDENT15", "WEEKEND20")
CANCEL_REASONS = ("user_cancelled", "vehicle_not_found", "battery_too_low", "reservation_expired", "payment_declined")


def fare(trip: Trip, promo: str | None) -> float:
    """The fare in the city's currency: EUR tariff scaled by local price level, converted at the anchor rate."""
    unlock, per_minute = TARIFFS[trip.vehicle.vehicle_type]
    minutes = (trip.end_ms - trip.start_ms) / 60_000
    city = trip.vehicle.city
    amount = (unlock + per_minute * minutes) * city.price_level / FX_ANCHOR[city.currency]
    return round(amount * (0.85 if promo else 1.0), 2)


class Journeys:
    def __init__(self, seed: int, start_ms: int, hours: int, trips: list[Trip], users: UserBook, fleet_size: int):
        self.start_ms, self.hours, self.trips = start_ms, hours, trips
        self.users = users
        self.factory = EventFactory(seed, start_ms)
        self.app = AppActivity(seed, start_ms, self.factory, users, fleet_size)
        self.rng = generator(seed, "journeys", start_ms)
        self.busy_until: dict[str, int] = {}
        self.buckets: dict[int, dict[str, list[Timed]]] = defaultdict(lambda: defaultdict(list))

    def _put(self, topic: str, events: list[Timed]) -> None:
        for time_ms, event in events:
            hour_index = (time_ms - self.start_ms) // HOUR_MS
            if 0 <= hour_index < self.hours:
                self.buckets[hour_index][topic].append((time_ms, event))

    def by_hour(self) -> Iterator[tuple[int, dict[str, list[Timed]]]]:
        """(hour index, events of that hour per topic) for every hour of the run, in order."""
        pending = iter(self.trips)
        trip = next(pending, None)
        for hour_index in range(self.hours):
            horizon = self.start_ms + (hour_index + 1) * HOUR_MS + LOOKAHEAD_MS
            while trip is not None and trip.created_ms < horizon:
                self._journey(trip)
                trip = next(pending, None)
            self._put(APP, list(self.app.browsing(hour_index)))
            self._put(APP, list(self.app.profile_updates(hour_index)))
            yield hour_index, self.buckets.pop(hour_index, {})

    def _customer(self, trip: Trip) -> User:
        for _ in range(4):  # one person rarely rides two vehicles at once
            user = self.users.pick(trip.vehicle.city, self.rng)
            if self.busy_until.get(user.user_id, 0) < trip.created_ms:
                break
        self.busy_until[user.user_id] = trip.end_ms or trip.created_ms
        return user

    def _journey(self, trip: Trip) -> None:
        rng, make = self.rng, self.factory.event
        user, vehicle, trace = self._customer(trip), trip.vehicle, self.factory.trace_id()
        booking_id = "bk_" + self.factory.entity_id()
        promo = rng.choice(PROMOS) if rng.random() < 0.12 else None
        who = {"booking_id": booking_id, "user_id": user.user_id, "vehicle_id": vehicle.vehicle_id}
        created = {**who, "vehicle_type": vehicle.vehicle_type, "city": vehicle.city.name, "latitude": round(trip.lat, 6),
                   "longitude": round(trip.lon, 6), "promo_code": promo, "customer_segment": user.segment}
        self._put(APP, self.app.before_booking(user, trip.created_ms, (trip.lat, trip.lon), trace))
        domain = [(trip.created_ms, make("//booking-service", "booking.created.v1", trip.created_ms, booking_id, created, trace))]
        if trip.end_ms is None:
            t = trip.created_ms + rng.randint(60_000, 15 * 60_000)
            data = {**who, "reason": rng.choice(CANCEL_REASONS)}
            domain.append((t, make("//booking-service", "booking.cancelled.v1", t, booking_id, data, trace)))
            self._put(DOMAIN, domain)
            return
        amount = fare(trip, promo)
        t_done = trip.end_ms + rng.randint(300, 5_000)
        completed = {**who, "vehicle_type": vehicle.vehicle_type, "city": vehicle.city.name,
                     "started_at": rfc3339(trip.start_ms), "ended_at": rfc3339(trip.end_ms), "distance_km": trip.distance_km,
                     "end_latitude": round(trip.end_lat, 6), "end_longitude": round(trip.end_lon, 6),
                     "fare_amount": amount, "currency": vehicle.city.currency}
        domain.append((t_done, make("//booking-service", "booking.completed.v1", t_done, booking_id, completed, trace)))
        t_return = trip.end_ms + rng.randint(20_000, 180_000)
        returned = {**who, "bay_id": f"{vehicle.city.code}-BAY-{rng.randint(1, 120):03d}" if vehicle.vehicle_type in ("car", "van") else None,
                    "latitude": round(trip.end_lat + rng.gauss(0, 0.00004), 6),
                    "longitude": round(trip.end_lon + rng.gauss(0, 0.00006), 6),
                    "photo_count": rng.randint(3, 6) if vehicle.vehicle_type in ("car", "van") else rng.randint(1, 2),
                    "damage_reported": trip.damage_reported}
        domain.append((t_return, make("//booking-service", "return.completed.v1", t_return, booking_id, returned, trace)))
        self._put(DOMAIN, domain)
        self._put(APP, self.app.after_trip(user, trip.end_ms, (trip.end_lat, trip.end_lon), trace))
        self._put(PAYMENT, self._payments(booking_id, user, amount, vehicle.city.currency, trip.end_ms, trace, rng))

    def _payments(self, booking_id: str, user: User, amount: float, currency: str, end_ms: int, trace: str,
                  rng: random.Random) -> list[Timed]:
        payment = {"payment_id": "pay_" + self.factory.entity_id(), "booking_id": booking_id, "user_id": user.user_id,
                   "amount": amount, "currency": currency, "method": user.method}
        t_auth = end_ms + rng.randint(3_000, 20_000)
        t_capture = t_auth + rng.randint(1_000, 90_000)
        make = self.factory.event
        events = [  # each event its own payload dict: a defect injected into one must not leak into another
            (t_auth, make("//payment-service", "payment.authorized.v1", t_auth, payment["payment_id"], dict(payment), trace)),
            (t_capture, make("//payment-service", "payment.captured.v1", t_capture, payment["payment_id"], dict(payment), trace)),
        ]
        if rng.random() < 0.025:
            t_refund = t_capture + rng.randint(10 * 60_000, 6 * HOUR_MS)
            refund = {**payment, "amount": amount if rng.random() < 0.6 else round(amount / 2, 2)}
            events.append((t_refund, make("//payment-service", "payment.refunded.v1", t_refund, payment["payment_id"], refund, trace)))
        return events
