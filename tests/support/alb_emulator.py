"""An ALB / Auto Scaling emulator: an HTTP proxy in front of moto's server.

moto keeps the AWS state but never health-checks, drains or validates
Standby. This proxy (127.0.0.1, a free port; point boto3 at it with
``AWS_ENDPOINT_URL``) forwards every request to moto and models, as AWS does:

* **DescribeTargetHealth** from its own state machine (:mod:`alb_targets`),
  fed by real HTTP health checks of every registered target at the group's
  path, matcher, interval, timeout and thresholds (read from moto). Instance
  targets are checked on 127.0.0.1 and the registered port, or where
  :meth:`AlbEmulator.map_instance` says. A group attached to no load
  balancer reports ``unused`` / ``Target.NotInUse``;
* **DeregisterTargets**: ``draining`` for ``deregistration_delay.timeout_seconds``;
* **EnterStandby**: refused (ValidationError) when the instance is not
  InService or when ShouldDecrementDesiredCapacity would take the desired
  capacity below MinSize; otherwise the instance reads ``EnteringStandby``
  while it drains from the group's target groups, then ``Standby``.
  **ExitStandby** registers it again (initial, then healthy);
* **rate budgets**: a token bucket per operation family answering
  ``Throttling`` (HTTP 400, the query-protocol error botocore retries), see
  :data:`BUDGETS`; and **faults** a test injects (:meth:`fail`, :meth:`burst`).

Everything is visible to the test: :meth:`calls`, :meth:`state`,
:meth:`transitions` (when the emulator marked each state), :meth:`wait_state`.
Targets that moto registered on its own (an Auto Scaling group launching
instances into its target groups) are adopted, as new registrations, the
first time the emulator sees the group.
"""

from __future__ import annotations

import http.client
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

from tests.support import alb_wire as wire
from tests.support.alb_asg import StandbyModel
from tests.support.alb_book import TargetBook, Transition
from tests.support.alb_targets import TargetState, TgSettings

#: Token buckets (size, refill per second) per operation family. The elbv2
#: figures are the documented ones. Auto Scaling's single bucket is not
#: published; it is taken to be the same as elbv2 Describe*.
BUDGETS: dict[str, tuple[float, float]] = {
    "elbv2-describe": (40, 10),
    "elbv2-register": (20, 4),
    "autoscaling": (40, 10),
}
_HOP = {"connection", "keep-alive", "transfer-encoding", "content-length", "host",
        "proxy-connection", "te", "upgrade"}


def family(service: str, action: str) -> str:
    """The rate-budget family of an operation."""
    if service == "elasticloadbalancing":
        if action.startswith("Describe"):
            return "elbv2-describe"
        if action in ("RegisterTargets", "DeregisterTargets"):
            return "elbv2-register"
        return "elbv2-other"
    return service or "unknown"


@dataclass(frozen=True)
class Call:
    """One request the emulator answered."""

    service: str
    action: str
    family: str
    time: float
    status: int
    throttled: bool
    fault: str | None
    params: dict[str, str]
    agent: str = ""


@dataclass
class _Fault:
    action: str | None
    service: str | None
    code: str
    status: int
    message: str | None
    remaining: int | None


class _Bucket:
    def __init__(self, size: float, rate: float) -> None:
        self.size, self.rate = size, rate
        self.level, self.stamp = size, time.monotonic()

    def take(self) -> bool:
        now = time.monotonic()
        self.level = min(self.size, self.level + (now - self.stamp) * self.rate)
        self.stamp = now
        if self.level >= 1:
            self.level -= 1
            return True
        return False


class AlbEmulator(TargetBook):
    """The proxy, its target state and the controls tests use."""

    def __init__(self, moto_url: str, *, registration_delay: float = 0.3,
                 account_id: str = "123456789012") -> None:
        super().__init__(registration_delay)
        self.moto_url = moto_url.rstrip("/")
        self.account_id = account_id
        self.budgets = dict(BUDGETS)
        self.budgets_enabled = True
        self._calls: list[Call] = []
        self._faults: list[_Fault] = []
        self._buckets: dict[str, _Bucket] = {}
        self._clients: dict[tuple[str, str], Any] = {}
        self.standby = StandbyModel(self)
        server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        server.daemon_threads = True
        server.request_queue_size = 256
        server.emulator = self  # type: ignore[attr-defined]
        self._server = server
        self.url = f"http://127.0.0.1:{server.server_address[1]}"
        threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1},
                         name="alb-emulator", daemon=True).start()

    # -- controls ------------------------------------------------------------------
    def fail(self, action: str | None, code: str = "AccessDenied", *, times: int | None = None,
             status: int | None = None, message: str | None = None,
             service: str | None = None) -> None:
        """Answer ``action`` (every action when None) with error ``code``, ``times`` times."""
        text = message
        with self.lock:
            self._faults.append(_Fault(action, service, code, status or wire.STATUS_FOR.get(
                code, 400), text, times))

    def burst(self, n: int, status: int = 503, action: str | None = None) -> None:
        """The next ``n`` requests (of ``action``, when given) answer HTTP ``status``."""
        code = wire.CODE_FOR_STATUS.get(status, "InternalFailure")
        self.fail(action, code, times=n, status=status, message="Service unavailable")

    def clear_faults(self) -> None:
        with self.lock:
            self._faults.clear()

    def map_instance(self, instance_id: str, host: str, port: int | None = None) -> None:
        """Health-check ``instance_id`` on ``host`` (and ``port`` instead of the registered one).

        Simulated instances sharing one machine cannot all listen on the
        group's port, so a ``port`` given here also stands for the group's
        port in that instance's Register/Deregister/DescribeTargetHealth
        calls, as the one port would on separate machines.
        """
        with self.lock:
            self._hosts[instance_id] = (host, port)

    def set_lifecycle(self, instance_id: str, state: str | None) -> None:
        """Show ``instance_id`` in ``state`` (e.g. ``Pending:Wait``) in Auto Scaling's answers.

        moto puts new instances InService at once and skips lifecycle hooks,
        so a launch deployment (CodeDeploy's hook holding the instance in
        Pending:Wait) is simulated here; ``None`` shows moto's state again.
        """
        with self.lock:
            if state is None:
                self.standby.held.pop(instance_id, None)
            else:
                self.standby.held[instance_id] = state

    def calls(self, action: str | None = None, service: str | None = None,
              since: float = 0.0) -> list[Call]:
        with self.lock:
            return [c for c in self._calls if (action is None or c.action == action)
                    and (service is None or c.service == service) and c.time >= since]

    def transitions(self, tg_arn: str | None = None, instance_id: str | None = None,
                    since: float = 0.0) -> list[Transition]:
        with self.lock:
            return [t for t in self._transitions if (tg_arn is None or t.tg_arn == tg_arn)
                    and (instance_id is None or t.instance_id == instance_id)
                    and t.time >= since]

    def state(self, tg_arn: str, instance_id: str, port: int | None = None) -> TargetState:
        """What DescribeTargetHealth would say of this target now."""
        self.sync(tg_arn)
        with self.lock:
            found = self._find(tg_arn, instance_id, port)
            if found is not None:
                return found.view()
        return TargetState("unused", "Target.NotRegistered",
                           "Target is not registered to the target group")

    def wait_state(self, tg_arn: str, instance_id: str, state: str, *, timeout: float = 30.0,
                   port: int | None = None) -> TargetState:
        """Poll :meth:`state` until it is ``state``; AssertionError after ``timeout``."""
        deadline = time.monotonic() + timeout
        while True:
            view = self.state(tg_arn, instance_id, port)
            if view.state == state:
                return view
            if time.monotonic() > deadline:
                raise AssertionError(f"{instance_id} in {tg_arn} is {view}, not {state}")
            time.sleep(0.05)

    def reset(self) -> None:
        """Forget faults, calls and transitions, refill the buckets, turn budgets on."""
        with self.lock:
            self._faults.clear()
            self._calls.clear()
            self._transitions.clear()
            self._buckets.clear()
            self.standby.held.clear()
            self.budgets = dict(BUDGETS)
            self.budgets_enabled = True

    def reset_buckets(self) -> None:
        """Refill every bucket (after changing :attr:`budgets`)."""
        with self.lock:
            self._buckets.clear()

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self.stop_checks()

    # -- moto, directly (the emulator's own reads and writes are not budgeted) ---------
    def moto(self, service: str, region: str) -> Any:
        key = (service, region)
        with self.lock:
            if key not in self._clients:
                import boto3
                from botocore.config import Config

                self._clients[key] = boto3.session.Session().client(
                    service, region_name=region, endpoint_url=self.moto_url,
                    aws_access_key_id="testing", aws_secret_access_key="testing",
                    config=Config(retries={"mode": "standard", "max_attempts": 3}))
            return self._clients[key]

    def settings(self, tg_arn: str, *, fresh: bool = False) -> TgSettings | None:
        """The group's health-check settings from moto (cached until a Modify/Create)."""
        with self.lock:
            cached = self._settings.get(tg_arn)
        if cached is not None and not fresh:
            return cached
        from botocore.exceptions import ClientError

        elb = self.moto("elbv2", tg_arn.split(":")[3])
        try:
            tg = elb.describe_target_groups(TargetGroupArns=[tg_arn])["TargetGroups"][0]
            attrs = elb.describe_target_group_attributes(TargetGroupArn=tg_arn)["Attributes"]
        except (ClientError, IndexError):
            return None
        values = {a["Key"]: a["Value"] for a in attrs}
        made = TgSettings(
            arn=tg_arn, name=tg["TargetGroupName"], port=int(tg.get("Port") or 0),
            protocol=tg.get("Protocol", "HTTP"), path=tg.get("HealthCheckPath") or "/",
            hc_port=str(tg.get("HealthCheckPort") or "traffic-port"),
            interval=float(tg.get("HealthCheckIntervalSeconds") or 30),
            timeout=float(tg.get("HealthCheckTimeoutSeconds") or 5),
            healthy=int(tg.get("HealthyThresholdCount") or 5),
            unhealthy=int(tg.get("UnhealthyThresholdCount") or 2),
            matcher=(tg.get("Matcher") or {}).get("HttpCode", "200"),
            enabled=bool(tg.get("HealthCheckEnabled", True)),
            in_use=bool(tg.get("LoadBalancerArns")),
            dereg_delay=float(values.get("deregistration_delay.timeout_seconds", "300")),
        )
        with self.lock:
            self._settings[tg_arn] = made
        return made

    def forget_settings(self) -> None:
        with self.lock:
            self._settings.clear()

    def sync(self, tg_arn: str) -> bool:
        """Adopt targets moto registered on its own; False when moto does not know the group."""
        from botocore.exceptions import ClientError

        try:
            rows = self.moto("elbv2", tg_arn.split(":")[3]).describe_target_health(
                TargetGroupArn=tg_arn)["TargetHealthDescriptions"]
        except (ClientError, IndexError):
            return False
        settings = self.settings(tg_arn)
        for row in rows:
            tid, port = row["Target"]["Id"], int(row["Target"].get("Port") or 0)
            with self.lock:
                if (tg_arn, tid) in self._seen:
                    continue
            self.register(tg_arn, tid, port or (settings.port if settings else 0))
        return True

    # -- requests -------------------------------------------------------------------
    def handle(self, method: str, path: str, headers: dict[str, str],
               body: bytes) -> tuple[int, dict[str, str], bytes]:
        """Answer one request: budget, injected fault, model, or moto's own answer."""
        info = wire.request_info(headers, body)
        fam = family(info.service, info.action)
        code, throttled = None, False
        answer = self._over_budget(info, fam)
        if answer is not None:
            code, throttled = "Throttling", True
        else:
            fault = self._take_fault(info)
            if fault is not None:
                code = fault.code
                text = fault.message or self._fault_message(fault.code, info)
                answer = wire.error_response(info, fault.code, text, fault.status)
            else:
                answer = self._model(info, method, path, headers, body)
        with self.lock:
            self._calls.append(Call(info.service, info.action, fam, time.time(), answer[0],
                                    throttled or code == "Throttling", code, info.params,
                                    headers.get("user-agent", "")))
        return answer

    def _over_budget(self, info: wire.RequestInfo,
                     fam: str) -> tuple[int, dict[str, str], bytes] | None:
        """A Throttling answer when the family's bucket is empty, else None."""
        with self.lock:
            if not self.budgets_enabled or fam not in self.budgets:
                return None
            bucket = self._buckets.get(fam)
            if bucket is None:
                bucket = self._buckets[fam] = _Bucket(*self.budgets[fam])
            if bucket.take():
                return None
        return wire.error_response(info, "Throttling", "Rate exceeded", 400)

    def _take_fault(self, info: wire.RequestInfo) -> _Fault | None:
        with self.lock:
            for fault in self._faults:
                if fault.action not in (None, info.action) or fault.service not in (
                        None, info.service):
                    continue
                if fault.remaining is not None:
                    fault.remaining -= 1
                    if fault.remaining <= 0:
                        self._faults.remove(fault)
                return fault
        return None

    def _fault_message(self, code: str, info: wire.RequestInfo) -> str:
        """AWS's wording for a refusal, naming the IAM action (as hdhooks must report it)."""
        if code in ("AccessDenied", "AccessDeniedException", "UnauthorizedOperation"):
            action = f"{_IAM_PREFIX.get(info.service, info.service)}:{info.action}"
            return (f"User: arn:aws:sts::{self.account_id}:assumed-role/hdhooks-instance/"
                    f"i-0test is not authorized to perform: {action} because no "
                    f"identity-based policy allows the {action} action")
        if code == "Throttling":
            return "Rate exceeded"
        return code

    def _model(self, info: wire.RequestInfo, method: str, path: str, headers: dict[str, str],
               body: bytes) -> tuple[int, dict[str, str], bytes]:
        def forward() -> tuple[int, dict[str, str], bytes]:
            return self.forward(method, path, headers, body)

        if info.service == "elasticloadbalancing":
            return self._elb(info, forward)
        if info.service == "autoscaling":
            return self.standby.handle(info, forward)
        return forward()

    def _elb(self, info: wire.RequestInfo,
             forward: Callable[[], tuple[int, dict[str, str], bytes]]
             ) -> tuple[int, dict[str, str], bytes]:
        action, params = info.action, info.params
        arn = params.get("TargetGroupArn", "")
        if action == "DescribeTargetHealth":
            if not self.sync(arn):
                return forward()  # moto's own error (TargetGroupNotFound)
            return 200, {"Content-Type": "text/xml"}, wire.target_health_xml(
                self._health_rows(arn, self._targets_in(arn, params)))
        if action == "DeregisterTargets":
            wanted = self._targets_in(arn, params)
            if wanted and all(self.is_draining(arn, t, p) for t, p in wanted):
                return 200, {"Content-Type": "text/xml"}, wire.simple_xml(action, info.service)
        answer = forward()
        if answer[0] != 200:
            return answer
        if action in ("RegisterTargets", "DeregisterTargets"):
            for tid, port in self._targets_in(arn, params):
                port = port or self._group_port(arn)
                if action == "RegisterTargets":
                    self.register(arn, tid, port)
                else:
                    self.deregister(arn, tid, port)
        elif not action.startswith("Describe"):
            self.forget_settings()
        return answer

    def _group_port(self, arn: str) -> int:
        settings = self.settings(arn)
        return settings.port if settings else 0

    def _targets_in(self, arn: str, params: dict[str, str]) -> list[tuple[str, int | None]]:
        """The request's targets, an instance's own mapped port standing for the group's."""
        out = []
        for tid, port in wire.targets(params):
            override = self._hosts.get(tid, ("", None))[1]
            out.append((tid, self._group_port(arn) if override and port == override else port))
        return out

    def _health_rows(self, arn: str, wanted: list[tuple[str, int | None]]
                     ) -> list[tuple[str, int, str, TargetState]]:
        settings = self.settings(arn)
        tg_port = settings.port if settings else 0
        hc = settings.hc_port if settings else "traffic-port"
        rows = []
        with self.lock:
            if not wanted:
                wanted = [(t.id, t.port) for t in self._targets.values() if t.tg == arn]
            for tid, port in wanted:
                target = self._find(arn, tid, port)
                shown = port or (target.port if target else tg_port)
                view = target.view() if target else TargetState(
                    "unused", "Target.NotRegistered",
                    "Target is not registered to the target group")
                rows.append((tid, shown, str(shown) if hc == "traffic-port" else hc, view))
        return rows

    def forward(self, method: str, path: str, headers: dict[str, str],
                body: bytes) -> tuple[int, dict[str, str], bytes]:
        """Send the request to moto unchanged and return its answer."""
        parts = urlsplit(self.moto_url)
        conn = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port, timeout=60)
        try:
            sent = {k: v for k, v in headers.items() if k.lower() not in _HOP}
            sent["Host"] = parts.netloc
            sent["Content-Length"] = str(len(body))
            conn.request(method, path, body=body, headers=sent)
            resp = conn.getresponse()
            data = resp.read()
            out = {k: v for k, v in resp.getheaders() if k.lower() not in _HOP}
            return resp.status, out, data
        finally:
            conn.close()


_IAM_PREFIX = {"monitoring": "cloudwatch"}  # credential scope -> IAM action prefix


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _any(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        headers = {k.lower(): v for k, v in self.headers.items()}
        emulator: AlbEmulator = self.server.emulator  # type: ignore[attr-defined]
        try:
            status, out, data = emulator.handle(self.command, self.path, headers, body)
        except Exception as exc:  # the emulator's own bug: answer 500, keep serving
            info = wire.request_info(headers, body)
            status, out, data = wire.error_response(info, "InternalFailure",
                                                    f"emulator: {exc!r}", 500)
        try:
            self.send_response(status)
            for key, value in out.items():
                self.send_header(key, value)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True  # the client timed out and went away

    do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = _any
