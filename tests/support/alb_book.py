"""The emulator's book of target registrations, and the thread that health-checks them.

:class:`TargetBook` holds every registration the emulator knows (target
group, instance id, port -> :class:`~tests.support.alb_targets.Target`),
records each state change as a :class:`Transition` with the time it was
made, and runs the checks: every 50 ms it launches the checks that are due
(one per target and interval, in a thread pool so a slow target never delays
another), ends drains whose delay has passed, and keeps targets of groups
without a load balancer (``Target.NotInUse``) or without health checks
(``Target.HealthCheckDisabled``) out of checking.
"""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from tests.support.alb_targets import (
    CheckResult,
    Target,
    TgSettings,
    apply_check,
    http_check,
)


@dataclass(frozen=True)
class Transition:
    """The moment the emulator gave a target a new state."""

    tg_arn: str
    instance_id: str
    port: int
    state: str
    reason: str | None
    time: float



class TargetBook:
    """Registrations, transitions and the checker; :meth:`settings` comes from the subclass."""

    def __init__(self, registration_delay: float) -> None:
        self.registration_delay = registration_delay
        self.lock = threading.RLock()
        self._targets: dict[tuple[str, str, int], Target] = {}
        self._seen: set[tuple[str, str]] = set()
        self._hosts: dict[str, tuple[str, int | None]] = {}
        self._transitions: list[Transition] = []
        self._settings: dict[str, TgSettings] = {}
        self._pool = ThreadPoolExecutor(max_workers=48, thread_name_prefix="alb-check")
        self._stop = threading.Event()
        threading.Thread(target=self._checker, name="alb-health", daemon=True).start()

    def settings(self, tg_arn: str, *, fresh: bool = False) -> TgSettings | None:
        raise NotImplementedError

    def stop_checks(self) -> None:
        self._stop.set()
        self._pool.shutdown(wait=False, cancel_futures=True)

    # -- the model ------------------------------------------------------------------
    def register(self, tg_arn: str, target_id: str, port: int) -> None:
        """A new registration (or a re-registration of a draining or removed target)."""
        settings = self.settings(tg_arn)
        now = time.time()
        with self.lock:
            self._seen.add((tg_arn, target_id))
            key = (tg_arn, target_id, port)
            current = self._targets.get(key)
            if current is not None and current.state != "draining":
                return
            target = current or Target(tg_arn, target_id, port)
            self._targets[key] = target
            target.register(time.monotonic(), self.registration_delay)
            self._note(target, now)
            if settings is not None:
                self._apply_settings(target, settings)

    def deregister(self, tg_arn: str, target_id: str, port: int | None) -> bool:
        """Start draining; False when the target is not registered."""
        settings = self.settings(tg_arn)
        delay = settings.dereg_delay if settings else 300.0
        with self.lock:
            self._seen.add((tg_arn, target_id))
            target = self._find(tg_arn, target_id, port)
            if target is None:
                return False
            if target.state != "draining":
                target.drain(time.monotonic(), delay)
                self._note(target, time.time())
            return True

    def is_draining(self, tg_arn: str, target_id: str, port: int | None) -> bool:
        with self.lock:
            target = self._find(tg_arn, target_id, port)
            return target is not None and target.state == "draining"

    def targets_of(self, tg_arn: str) -> list[Target]:
        with self.lock:
            return [t for t in self._targets.values() if t.tg == tg_arn]

    def _find(self, tg_arn: str, target_id: str, port: int | None) -> Target | None:
        for (arn, tid, tport), target in self._targets.items():
            if arn == tg_arn and tid == target_id and (port is None or port == tport):
                return target
        return None

    def _note(self, target: Target, now: float) -> None:
        self._transitions.append(Transition(target.tg, target.id, target.port, target.state,
                                            target.reason, now))

    def _apply_settings(self, target: Target, settings: TgSettings) -> None:
        """Groups without a load balancer or with checks off never check (caller holds lock)."""
        if target.state == "draining":
            return
        if not settings.in_use:
            if target.set("unused", "Target.NotInUse"):
                self._note(target, time.time())
        elif not settings.enabled:
            if target.set("unavailable", "Target.HealthCheckDisabled"):
                self._note(target, time.time())
        elif target.state in ("unused", "unavailable"):
            target.register(time.monotonic(), self.registration_delay)
            self._note(target, time.time())

    # -- the health checker -------------------------------------------------------------
    def _checker(self) -> None:
        while not self._stop.wait(0.05):
            try:
                self._tick()
            except Exception:  # a broken tick must not stop every later check
                time.sleep(0.2)

    def _tick(self) -> None:
        now = time.monotonic()
        with self.lock:
            arns = {t.tg for t in self._targets.values()}
            missing = [a for a in arns if a not in self._settings]
        for arn in missing:
            self.settings(arn)
        with self.lock:
            for key, target in list(self._targets.items()):
                settings = self._settings.get(target.tg)
                if target.state == "draining":
                    if target.drain_until is not None and now >= target.drain_until:
                        del self._targets[key]
                        target.set("unused", "Target.NotRegistered")
                        self._note(target, time.time())
                    continue
                if settings is None:
                    continue
                self._apply_settings(target, settings)
                if target.state in ("unused", "unavailable") or target.in_flight:
                    continue
                if now >= target.next_check:
                    self._launch(target, settings, now)

    def _launch(self, target: Target, settings: TgSettings, now: float) -> None:
        target.in_flight = True
        target.next_check = now + settings.interval
        if target.reason == "Elb.RegistrationInProgress" and target.set(
                "initial", "Elb.InitialHealthChecking"):
            self._note(target, time.time())
        host, port_override = self._hosts.get(target.id, ("127.0.0.1", None))
        port = port_override or (target.port if settings.hc_port == "traffic-port"
                                 else int(settings.hc_port))
        self._pool.submit(self._check, target, target.generation, host, port, settings)

    def _check(self, target: Target, generation: int, host: str, port: int,
               settings: TgSettings) -> None:
        try:
            result = http_check(host, port, settings)
        except Exception as exc:  # keep the state machine moving whatever happens
            result = CheckResult(False, "Target.FailedHealthChecks", str(exc)[:100])
        with self.lock:
            if target.generation != generation or target.state == "draining":
                return
            target.in_flight = False
            if apply_check(target, result, settings):
                self._note(target, time.time())

