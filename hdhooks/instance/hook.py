"""``hdhooks hook``: one lifecycle event as a plan of steps, executed in order.

Output is written for the CodeDeploy console, which shows only the last
~2 KB of a failing script: progress lines, one CloudWatch EMF metric line,
then a single outcome line (``OK ...`` or ``FAILED ...``) and, on failure, a
short block of diagnostics that still fits in that window. The metric line is
also appended to the metrics file (:mod:`hdhooks.metrics`), which the
CloudWatch agent ships as EMF.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Sequence

from hdhooks import __version__
from hdhooks.config.model import ComponentConfig
from hdhooks.errors import ExitCode, HdhooksError
from hdhooks.instance.context import HookEnv
from hdhooks.instance.runtime import Runtime
from hdhooks.metrics import append_line, emf_line, metrics_file
from hdhooks.redact import open_registry, redact

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (hook start-up)
if TYPE_CHECKING:
    from typing import IO, Any

    from hdhooks.instance.steps import Step

#: What CodeDeploy's console shows of a script's output: the last 2 KB.
CONSOLE_WINDOW = 2048
#: The outcome line is cut to this many bytes.
MAX_LINE_BYTES = 1000
#: What may follow the outcome line so that it stays inside CodeDeploy's 2 KB.
DIAGNOSTICS_BUDGET = 1400


class Outcome:
    """How an event (or a rollback) ended: the outcome line and what explains it."""

    def __init__(self, ok: bool, summary: str, diagnostics: list[str], exit_code: int):
        self.ok = ok
        self.summary = summary
        self.diagnostics = diagnostics
        self.exit_code = exit_code


def run_hook(env: HookEnv, *, dry_run: bool = False, out: IO[str] | None = None) -> int:
    """Run ``env.event`` for the bundle; returns the exit code."""
    stream = out or sys.stdout
    start = time.monotonic()
    component = "unknown"
    environment = ""
    config: ComponentConfig | None = None
    try:
        open_registry(env.state_dir, env.deployment_id)
        loaded = load_for_hook(env, stream)
        if loaded is None:
            outcome = Outcome(True, "nothing hdhooks started from this revision: nothing "
                              "to stop", [], ExitCode.OK)
            finish(stream, env.event, env.deployment_id, component, environment, outcome, start)
            return outcome.exit_code
        config, data = loaded
        component, environment = config.component, config.environment or ""
        rt = Runtime(env, config, out=stream)
        steps = planned(env, config)
        rt.say(
            f"hdhooks {__version__}: {env.event} of {component}"
            f"{f' ({environment})' if environment else ''}, deployment {env.deployment_id}"
        )
        if dry_run:
            show_plan(rt, steps)
            return ExitCode.OK
        if journal_has_open(env.state_dir):
            reconcile_at_start(rt, env, config)
        if not steps:
            outcome = execute(rt, steps)
        else:
            from hdhooks.config.state import component_lock

            with component_lock(env.state_dir, component, f"hook {env.event}"):
                outcome = execute(rt, steps)
                if outcome.ok and env.event == "ApplicationStart":
                    remember_component(env, config, data)
    except HdhooksError as exc:
        outcome = Outcome(False, exc.one_line(), exc.details(), int(exc.exit_code))
    except Exception as exc:
        # A bug: the console must still end with FAILED and the metric; the
        # CLI boundary then logs the traceback and exits 70.
        outcome = Outcome(False, f"internal error: {type(exc).__name__}: {exc}", [],
                          ExitCode.INTERNAL)
        finish(stream, env.event, env.deployment_id, component, environment, outcome, start)
        raise
    finish(stream, env.event, env.deployment_id, component, environment, outcome, start,
           config)
    return outcome.exit_code


def journal_has_open(state_dir: str) -> bool:
    """Whether the traffic journal holds an open entry: one directory listing.

    Every hook asks, so this imports nothing (the journal module would bring
    json and dataclasses); the layout is ``hdhooks.aws.journal``'s.
    """
    try:
        names = os.listdir(os.path.join(state_dir, "journal"))
    except OSError:
        return False
    return any(n.endswith(".json") and not n.startswith(".") for n in names)


def reconcile_at_start(rt: Runtime, env: HookEnv, config: ComponentConfig) -> None:
    """Settle what other deployments left in the journal before this hook acts.

    An entry of an earlier deployment of this component's group that keeps
    the instance out of traffic is handed to this deployment, whose allow
    step brings the instance back. Anything else is reconciled. Never a
    reason for this hook to fail: what cannot be settled is said and left to
    ``hdhooks reconcile`` and its timer.
    """
    from hdhooks.instance.reconcile import Adoption, reconcile

    adoption = None
    # Events after the allow step (ValidateService, or AfterAllowTraffic when
    # traffic.events moves it there) would leave an adopted entry open.
    after_allow = () if "AfterAllowTraffic" in config.traffic.events else (
        "BeforeAllowTraffic", "AfterAllowTraffic")
    if config.traffic.mode in ("auto", "hdhooks") and env.event not in after_allow:
        adoption = Adoption(env.deployment_id, env.deployment_group, config.component,
                            env.event)
    try:
        report = reconcile(env.state_dir, exclude_deployment=env.deployment_id,
                           adoption=adoption, assume_finished=True, out=rt.out)
    except HdhooksError as exc:
        rt.say(f"warning: reconcile of earlier deployments: {exc.one_line()}")
        return
    except OSError as exc:  # the journal cannot be read or written: say it, go on
        rt.say(f"warning: reconcile of earlier deployments: {os_error(exc)}")
        return
    for result in report.results:
        word = "reconciled" if result.ok else "warning: could not reconcile"
        rt.say(f"{word} {result.component}: {result.summary}")


def planned(env: HookEnv, config: ComponentConfig) -> tuple[Step, ...]:
    """The plan of ``env.event``: nothing to import for an event with nothing to do."""
    from hdhooks.instance.plan import Where, has_steps, plan_event

    if not has_steps(env.event, config):
        return ()
    from hdhooks.instance.runtime import build_id_of

    where = Where(env.deployment_id, env.deployment_group,
                  build_id_of(config, env.deployment_id))
    return plan_event(env.event, config, where)


def show_plan(rt: Runtime, steps: Sequence[Step]) -> None:
    """The dry run: every step that would run, and why one would be skipped."""
    if not steps:
        rt.say("  nothing to do for this event")
    for n, step in enumerate(steps, 1):
        reason = step.skipped()
        verb = f"skip {step.describe()}: {reason}" if reason else f"would {step.describe()}"
        rt.say(f"  [{n}/{len(steps)}] {verb}")


def finish(stream: IO[str], event: str, deployment_id: str, component: str,
           environment: str, outcome: Outcome, start: float,
           config: ComponentConfig | None = None, *, metric: str = "both") -> None:
    """The EMF metric line, then the outcome line and its diagnostics.

    ``metric`` says where the metric goes (:func:`emit_metric`), ``none`` for
    a usage error: also a hook run by hand (no deployment) on a folder without
    a usable config, which is no deployment of any component.
    """
    duration = time.monotonic() - start
    figures, per_operation = traffic_figures()
    result = "Succeeded" if outcome.ok else "Failed"
    misuse = (component == "unknown" and deployment_id == "manual"
              and outcome.exit_code == ExitCode.USAGE)
    if metric != "none" and not misuse:
        emit_metric(stream, emf_line(
            component=component,
            event=event,
            duration_s=duration,
            result=result,
            environment=environment,
            deployment_id=deployment_id,
            figures=figures,
            properties={"ApiCallsByOperation": per_operation} if per_operation else None,
        ), metric)
    if config is not None and config.metrics.put_metric_data:
        put_metrics(stream, config, event, result, duration, figures)
    write_outcome(stream, event, component, outcome, duration)


def emit_metric(stream: IO[str], line: str, metric: str) -> None:
    """Append the EMF line to the metrics file; print it too when ``metric`` is ``both``.

    Hooks print it (``both``); interactive commands only with ``--metrics``
    (``file``): their reader has no use for the JSON.
    """
    from hdhooks.instance.context import service_dirs

    path = metrics_file(service_dirs()[0])
    warning = append_line(line, path) if path else ""
    if warning:
        stream.write(f"warning: {warning}\n")
    if metric == "both":
        stream.write(line + "\n")


def traffic_figures() -> tuple[dict[str, float], dict[str, int]]:
    """Drain / healthy-wait seconds and AWS API calls of this hook, when any were made.

    Read from the modules only when the hook loaded them: a hook that made
    no AWS call must not import boto3's side of hdhooks to say so.
    """
    figures: dict[str, float] = {}
    per_operation: dict[str, int] = {}
    traffic = sys.modules.get("hdhooks.aws.traffic")
    if traffic is not None:
        figures.update(traffic.TIMINGS)
    session = sys.modules.get("hdhooks.aws.session")
    if session is not None and session.CALLS:
        per_operation = dict(session.CALLS)
        figures["ApiCalls"] = sum(per_operation.values())
        figures["ThrottledCalls"] = sum(session.THROTTLED.values())
    return figures, per_operation


def put_metrics(stream: IO[str], config: ComponentConfig, event: str, result: str,
                duration: float, figures: dict[str, float]) -> None:
    """PutMetricData (``metrics.put_metric_data: true``); a failure is only a warning."""
    from hdhooks.aws.session import aws_call, client
    from hdhooks.metrics import metric_data

    data = metric_data(config.component, event, result, duration, figures)
    try:
        with aws_call("cloudwatch", "PutMetricData", config.metrics.namespace):
            client("cloudwatch").put_metric_data(Namespace=config.metrics.namespace,
                                                 MetricData=data)
    except HdhooksError as exc:
        stream.write(redact(f"warning: metrics not sent: {exc.one_line()}") + "\n")


def execute(rt: Runtime, steps: Sequence[Step]) -> Outcome:
    """Run the steps in order; the first failure stops the event."""
    results: list[str] = []
    for n, step in enumerate(steps, 1):
        began = time.monotonic()
        rt.say(f"[{n}/{len(steps)}] {step.describe()}")
        try:
            detail = step.run(rt)
        except HdhooksError as exc:
            rt.say(f"      failed after {time.monotonic() - began:.2f}s")
            return Outcome(False, exc.one_line(), exc.details(), int(exc.exit_code))
        except OSError as exc:  # the machine said no: permissions, a full disk, a file
            rt.say(f"      failed after {time.monotonic() - began:.2f}s")
            return Outcome(False, f"could not {step.describe()}: {os_error(exc)}", [],
                           ExitCode.FAILED)
        rt.say(f"      ok ({time.monotonic() - began:.2f}s): {detail}")
        results.append(detail)
    if not steps:
        return Outcome(True, "nothing to do for this event", [], ExitCode.OK)
    return Outcome(True, summarize(results), [], ExitCode.OK)


def os_error(exc: OSError) -> str:
    """``Not a directory: /opt/api/releases`` rather than Python's repr-like text."""
    what = exc.strerror or str(exc)
    return f"{what}: {exc.filename}" if exc.filename else what


def summarize(results: Sequence[str]) -> str:
    """The step results worth the outcome line: what was done, not what was skipped.

    ValidateService ends with the traffic step, usually skipped; the health
    result before it is what the console reader needs.
    """
    done = [r for r in results if not r.startswith("skipped")]
    return "; ".join(done) if done else results[-1]


def write_outcome(
    stream: IO[str], event: str, component: str, outcome: Outcome, duration: float
) -> None:
    """The outcome line, then diagnostics within the console's budget."""
    word = "OK" if outcome.ok else "FAILED"
    line = _cut(redact(f"{word} {event} {component} in {duration:.2f}s: {outcome.summary}"),
                MAX_LINE_BYTES)
    stream.write(line + "\n")
    # The console counts bytes from the end: a long outcome line leaves less
    # room for what follows it ("  ...\n" is the last thing that may be added).
    budget = min(DIAGNOSTICS_BUDGET, CONSOLE_WINDOW - len(line.encode()) - 1 - 6)
    for diag in outcome.diagnostics:
        text = _cut(redact(f"  {diag}"), 300)
        budget -= len(text.encode()) + 1
        if budget < 0:
            stream.write("  ...\n")
            break
        stream.write(text + "\n")
    stream.flush()


def _cut(text: str, max_bytes: int) -> str:
    """``text`` cut to at most ``max_bytes`` of UTF-8 (never inside a character)."""
    data = text.encode()
    return text if len(data) <= max_bytes else data[:max_bytes].decode(errors="ignore")


def load_for_hook(
    env: HookEnv, stream: IO[str]
) -> tuple[ComponentConfig, dict[str, Any]] | None:
    """The config of the bundle; for ApplicationStop, never a reason to fail.

    CodeDeploy runs ApplicationStop from the *previous* revision. If its
    config can no longer be used (an hdhooks upgrade made the schema stricter,
    the environment tag changed), failing would block every later deployment.
    So ApplicationStop falls back to the config recorded when that revision
    was started; and when hdhooks never started anything from it, there is
    nothing to stop (None).
    """
    from hdhooks.config.cache import config_from_data, load_config_data
    from hdhooks.errors import ConfigError

    try:
        data = load_config_data(
            env.bundle_dir,
            cache_dir=os.path.join(env.state_dir, "cache"),
            deployment_group=env.deployment_group,
            environment=env.environment,
        )
    except ConfigError as exc:
        if env.event != "ApplicationStop":
            raise
        recorded = recorded_config(env)
        stream.write(redact(f"warning: this revision's config cannot be used: "
                            f"{exc.one_line()}") + "\n")
        if recorded is None:
            return None
        stream.write("warning: stopping with the config recorded when it was started\n")
        data = recorded
    return config_from_data(data), data


def recorded_config(env: HookEnv) -> dict[str, Any] | None:
    """The config recorded at ApplicationStart of the deployment whose archive this is.

    The agent unpacks every revision into ``<root>/<group>/<deployment-id>/
    deployment-archive``, and ApplicationStart recorded that deployment id.
    A record that cannot be read (damaged, from a newer hdhooks) is passed
    over: ApplicationStop never fails because of the previous revision.
    """
    from hdhooks.config.state import read_all

    # The agent's archive (<deployment-id>/deployment-archive), or a release
    # (releases/<deployment-id>, also reached through `current`).
    ids = {os.path.basename(os.path.dirname(os.path.abspath(env.bundle_dir))),
           os.path.basename(os.path.realpath(env.bundle_dir))}
    records, _unreadable = read_all(env.state_dir)
    for record in records:
        if record.deployment_id in ids and record.config is not None:
            return dict(record.config)
    return None


def remember_component(env: HookEnv, config: ComponentConfig, data: dict[str, Any]) -> None:
    """Record where a component lives (for ``hdhooks rollback``) and its config."""
    from hdhooks.config.state import ComponentState, write_state

    write_state(env.state_dir, ComponentState(
        component=config.component,
        base_dir=config.releases.base_dir,
        environment=config.environment,
        deployment_group=env.deployment_group,
        deployment_id=env.deployment_id,
        config=data,
        hdhooks_version=__version__,
    ))
