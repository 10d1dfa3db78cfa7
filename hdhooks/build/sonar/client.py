"""HTTP to SonarQube's Web API: auth, redirects, TLS and clear failures.

Redirects are followed here, not by requests: requests drops the
Authorization header when the port or scheme changes (``http://h:9000`` ->
``https://h``), which is exactly the redirect users put in front of
SonarQube, and the gate then reads "not authorised" or "no gate". The rule:
at most 5 hops; the token goes along while the host name stays the same
(any port, http -> https allowed); a redirect to another host name, or from
https down to http, stops with a message naming the target, so the token
never leaves the host it was meant for. A relative ``Location`` is resolved
against the URL that answered and followed; a missing one, a scheme other
than http(s), an unparsable URL (bad port, bad IPv6 literal) and a loop
(more than 5 hops) stop the gate with exit 2.

Answers are read up to :data:`~hdhooks.build.sonar.safe.MAX_BODY` bytes and
decoded without trusting their shape; every string from the server goes
through :func:`hdhooks.build.sonar.safe.text` before it is shown.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any
from urllib.parse import urljoin, urlsplit

from hdhooks import __version__
from hdhooks.build.sonar.gate import (
    TASK_FINAL,
    CeTask,
    SonarResponseError,
    error_messages,
    parse_task_json,
)
from hdhooks.build.sonar.safe import MAX_BODY, text
from hdhooks.errors import InputError

if TYPE_CHECKING:
    import requests

USER_AGENT = f"hdhooks/{__version__} (sonar-gate)"
MAX_REDIRECTS = 5
REDIRECT_CODES = frozenset({301, 302, 303, 307, 308})
REQUEST_TIMEOUT = (10.0, 30.0)  # connect, read: a hung server must not hang the build
CA_HINT = "pass --ca-bundle PEM, or set REQUESTS_CA_BUNDLE, with the CA that signed its certificate"
HOST_HINT = (
    "check the host is reachable from the build, or point to it with --host / SONAR_HOST_URL"
)


class SonarUnreachable(InputError):
    """No HTTP answer: DNS, refused connection, TLS verification, timeout."""


class _Bearer:
    """``Authorization: Bearer <token>`` (SonarQube 10+), as a requests auth."""

    def __init__(self, token: str) -> None:
        self.token = token

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        request.headers["Authorization"] = f"Bearer {self.token}"
        return request


def redirect_target(current: str, location: str, origin: str) -> str:
    """The URL to follow for ``Location``; InputError when the token must not follow."""
    if not location.strip():
        raise SonarResponseError(f"{current} answered with a redirect without a Location")
    shown = text(location)
    try:
        target = urljoin(current, location.strip())
        old, new = urlsplit(current), urlsplit(target)
        new.port  # noqa: B018 - parses the port, raising ValueError when it is not one
    except ValueError as exc:
        raise SonarResponseError(f"{current} redirects to an invalid URL '{shown}': {exc}")
    if new.scheme not in ("http", "https") or not new.hostname or not is_plain_url(target):
        raise SonarResponseError(
            f"{current} redirects to '{shown}', which is not an http(s) URL",
            hint="fix the server's redirect, or pass --host with the SonarQube URL",
        )
    if new.hostname.lower() != (urlsplit(origin).hostname or "").lower():
        raise InputError(
            f"{current} redirects to another host: {text(target)}",
            hint="the token is only sent to the host in report-task.txt; "
            "pass --host with the new server URL if it is the right one",
        )
    if old.scheme == "https" and new.scheme != "https":
        raise InputError(
            f"{current} redirects from https down to {text(target)}",
            hint="refusing to send the token unencrypted; fix the server or pass --host",
        )
    return target


def is_plain_url(url: str) -> bool:
    """Whether ``url`` has no whitespace or control characters (never in a real URL)."""
    return text(url, limit=len(url) + 1) == url and not any(ch.isspace() for ch in url)


def failure_reason(exc: BaseException, timeout: tuple[float, float] = REQUEST_TIMEOUT) -> str:
    """A short cause for a requests connection error, from its chain of messages."""
    text = str(exc)
    verify = re.search(r"certificate verify failed: ([^(\"')\\]+)", text)
    if verify:
        return f"TLS certificate verification failed ({verify.group(1).strip()})"
    if "CERTIFICATE_VERIFY_FAILED" in text or "doesn't match" in text.lower():
        return "TLS certificate verification failed"
    if "Failed to resolve" in text or "Name or service not known" in text:
        return "the host name does not resolve (DNS)"
    if "Connection refused" in text:
        return "connection refused"
    if "timed out" in text.lower() or "Timeout" in type(exc).__name__:
        return f"no answer within {timeout[1]:g} s"
    return f"{type(exc).__name__}: {text[:160]}"


def _plain_session() -> requests.Session:
    """A requests session that never looks at ``Location`` itself.

    Even with ``allow_redirects=False`` requests parses the next URL of a
    redirect, and a bad port or IPv6 literal there raises a bare ValueError
    before this module can see the answer; :func:`redirect_target` decides.
    """
    import requests

    class PlainSession(requests.Session):
        def get_redirect_target(self, resp: requests.Response) -> None:
            return None

    return PlainSession()


def decode_json(body: bytes) -> Any:
    """The JSON document in ``body``, or None when it is not JSON (or nested absurdly)."""
    import json

    try:
        return json.loads(body.decode("utf-8"))
    except (ValueError, RecursionError):
        return None


class SonarClient:
    """GETs JSON from SonarQube and polls the background task.

    ``session``, ``clock`` and ``sleep`` are injectable; the defaults are a
    ``requests.Session`` (honours REQUESTS_CA_BUNDLE and proxy variables),
    ``time.monotonic`` and ``time.sleep``.
    """

    def __init__(
        self,
        *,
        token: str = "",
        auth_scheme: str = "basic",
        ca_bundle: str = "",
        session: requests.Session | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        request_timeout: tuple[float, float] = REQUEST_TIMEOUT,
    ) -> None:
        self.token = token
        self.auth_scheme = auth_scheme
        self.ca_bundle = ca_bundle
        self._session = session
        self.clock = clock
        self.sleep = sleep
        self.request_timeout = request_timeout

    @property
    def session(self) -> requests.Session:
        if self._session is None:
            self._session = _plain_session()
        return self._session

    def _auth(self) -> tuple[str, str] | _Bearer | None:
        if not self.token:
            return None
        if self.auth_scheme == "bearer":
            return _Bearer(self.token)
        return (self.token, "")  # the token as user, empty password: every version

    def get_json(self, url: str, what: str) -> Any:
        """GET ``url`` following same-host redirects; the decoded JSON of a 200."""
        current = url
        for _hop in range(MAX_REDIRECTS + 1):
            response, body = self._get(current)
            if response.status_code in REDIRECT_CODES:
                current = redirect_target(current, response.headers.get("Location", ""), url)
                continue
            return self._decode(response, body, current, what)
        raise SonarResponseError(f"{url}: more than {MAX_REDIRECTS} redirects", hint=HOST_HINT)

    def _get(self, url: str) -> tuple[requests.Response, bytes]:
        import requests

        try:
            response = self.session.get(
                url,
                auth=self._auth(),
                headers={"User-Agent": USER_AGENT, "Accept": "application/json"},
                timeout=self.request_timeout,
                verify=self.ca_bundle or True,
                allow_redirects=False,
                stream=True,
            )
            return response, self._bounded_body(response, url)
        except requests.exceptions.SSLError as exc:
            raise SonarUnreachable(
                f"cannot reach SonarQube at {url}: {failure_reason(exc)}",
                hint=f"{CA_HINT}, or use --host",
            )
        except (requests.exceptions.ConnectionError, requests.exceptions.Timeout) as exc:
            reason = failure_reason(exc, self.request_timeout)
            raise SonarUnreachable(
                f"cannot reach SonarQube at {url}: {reason}",
                hint=HOST_HINT,
            )
        except requests.exceptions.RequestException as exc:
            raise SonarUnreachable(f"cannot query {url}: {text(exc)}", hint=HOST_HINT)

    @staticmethod
    def _bounded_body(response: requests.Response, url: str) -> bytes:
        """At most MAX_BODY bytes of the answer: a server cannot fill the build's memory."""
        try:
            body = response.raw.read(MAX_BODY + 1, decode_content=True)
        finally:
            response.close()
        if len(body) > MAX_BODY:
            raise SonarResponseError(
                f"{url}: answer larger than {MAX_BODY} bytes",
                hint="is the URL the SonarQube base URL? see --host",
            )
        return bytes(body)

    def _decode(self, response: requests.Response, body: bytes, url: str, what: str) -> Any:
        data = decode_json(body)
        code = response.status_code
        if code == 200 and data is not None:
            return data
        server = error_messages(data)
        said = f": {server}" if server else ""
        if code == 401:
            raise InputError(f"{url}: HTTP 401 unauthorised{said}", hint=self._token_hint())
        if code == 403:
            raise InputError(
                f"{url}: HTTP 403 forbidden{said}",
                hint="the token's user lacks the Browse permission on the project",
            )
        if code == 404:
            raise InputError(
                f"{url}: HTTP 404: unknown {what}{said}",
                hint="is report-task.txt from this build and this server? see --host",
            )
        if code == 200:
            kind = text(response.headers.get("Content-Type", "no content type"), limit=80)
            raise SonarResponseError(
                f"{url}: HTTP 200 but not JSON ({kind})",
                hint="is the URL the SonarQube base URL? see --host",
            )
        reason = text(response.reason, limit=80)
        raise SonarResponseError(f"{url}: HTTP {code} {reason}".rstrip() + said)

    def _token_hint(self) -> str:
        if not self.token:
            return "SONAR_TOKEN is not set and the server requires authentication"
        tip = "; before SonarQube 10 use --auth basic" if self.auth_scheme == "bearer" else ""
        return f"SONAR_TOKEN is invalid or expired{tip}"

    def wait_for_task(
        self,
        url: str,
        timeout: float,
        interval: float,
        progress: Callable[[str], None] = lambda _line: None,
    ) -> tuple[CeTask, bool]:
        """Poll api/ce/task until a final state; ``(task, timed_out)``.

        ``timeout`` counts from the first answer, so a slow first request (a
        loaded build host, a cold server) does not eat the whole wait.
        """
        deadline: float | None = None
        last = ""
        while True:
            task = parse_task_json(self.get_json(url, "task"), url)
            if deadline is None:
                deadline = self.clock() + timeout
            if task.status != last:
                progress(f"background task {task.id or url}: {task.status}")
                last = task.status
            if task.status in TASK_FINAL:
                return task, False
            remaining = deadline - self.clock()
            if remaining <= 0:
                return task, True
            self.sleep(min(interval, remaining))
