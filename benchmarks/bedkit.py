"""What the traffic benchmarks share: the AWS test bed and instances that run real hooks.

:class:`Bed` starts moto's server, the ALB emulator in front of it and the
IMDSv2 server, in this process, with a fleet builder. :class:`BedMachine`
is one simulated instance: the example service deployed by the installed
``hdhooks hook`` command, with CodeDeploy's variables, the instance's own
IMDS identity, state directory and port, and AWS reached through the
emulator only.
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path
from types import TracebackType
from typing import Any

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from tests.e2e.hookkit import Machine  # noqa: E402
from tests.support.alb_emulator import AlbEmulator, Call  # noqa: E402
from tests.support.awsbed import REGION, Component, Fleet  # noqa: E402
from tests.support.imds_server import ImdsServer  # noqa: E402


def have_moto() -> bool:
    try:
        import moto.server  # noqa: F401
    except ImportError:
        return False
    return True


class Bed:
    """moto + the ALB emulator + IMDS, for one benchmark run."""

    def __init__(self, prefix: str) -> None:
        import logging

        from moto.server import ThreadedMotoServer

        logging.getLogger("werkzeug").setLevel(logging.WARNING)
        self.moto = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        self.moto.start()
        host, port = self.moto.get_host_and_port()
        self.emulator = AlbEmulator(f"http://{host}:{port}")
        self.imds = ImdsServer()
        self.fleet = Fleet(self.emulator.url, self.imds, emulator=self.emulator, prefix=prefix)
        self.tmp = Path(tempfile.mkdtemp(prefix=f"hdhooks-{prefix}-"))

    def env(self) -> dict[str, str]:
        return {
            "AWS_ENDPOINT_URL": self.emulator.url,
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_DEFAULT_REGION": REGION,
            "AWS_REGION": REGION,
            "AWS_CONFIG_FILE": str(self.tmp / "no-aws-config"),
            "AWS_SHARED_CREDENTIALS_FILE": str(self.tmp / "no-aws-credentials"),
        }

    def __enter__(self) -> Bed:
        return self

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.emulator.close()
        self.imds.close()
        self.moto.stop()


class BedMachine(Machine):
    """One instance of a component: its identity, its group, AWS through the emulator."""

    def __init__(self, folder: Path, bed: Bed, comp: Component, index: int = 0) -> None:
        instance = comp.instances[index]
        super().__init__(folder, port=instance.port)
        self.comp = comp
        self.instance = instance
        self.aws = bed.env()
        self.aws["AWS_EC2_METADATA_SERVICE_ENDPOINT"] = instance.ident.url
        for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_EC2_METADATA_DISABLED"):
            os.environ.pop(name, None)

    def env(self, event: str | None = None, deployment_id: str | None = None) -> dict[str, str]:
        env = super().env(event, deployment_id)
        env.update(self.aws)
        env["DEPLOYMENT_GROUP_NAME"] = self.comp.group_name
        env["APPLICATION_NAME"] = self.comp.app_name
        return env

    def cleanup(self) -> None:
        """Stop this instance's service without a hook: the measurement is over."""
        import psutil

        found = self.leftovers()
        for process in found:
            process.kill()
        psutil.wait_procs(found, timeout=5)

    def traffic_bundle(self, name: str, build: str, **traffic: Any) -> Path:
        host = self.instance.host

        def edit(config: dict[str, Any]) -> None:
            config["environment_from"]["deployment_groups"][self.comp.group_name] = "demo"
            demo = config["environments"]["demo"]
            demo["traffic"] = traffic
            command = demo["service"]["command"]
            command[command.index("--host") + 1] = host
        return self.bundle(name, build, edit=edit)


def hook_calls(calls: list[Call], tg_arn: str, start: float, end: float,
               action: str = "DescribeTargetHealth") -> list[Call]:
    """The calls hdhooks made for ``tg_arn`` between ``start`` and ``end`` (no waiter's)."""
    return [c for c in calls if c.action == action and start <= c.time <= end
            and c.params.get("TargetGroupArn") == tg_arn and "bench-waiter" not in c.agent]
