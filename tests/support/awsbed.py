"""The AWS test bed: fixtures for the ALB emulator and IMDS, and a fleet builder.

Registered from the root conftest (``pytest_plugins``):

* ``imds_server`` (session): an :class:`~tests.support.imds_server.ImdsServer`;
  ``imds_server.identity(instance_id, region=..., lifecycle=...)`` gives an
  identity with its own ``url``;
* ``alb_emulator`` (session): an :class:`~tests.support.alb_emulator.AlbEmulator`
  in front of ``moto_server``;
* ``traffic_env`` (function): the variables a child ``hdhooks`` needs to
  reach AWS through the emulator (endpoint, dummy credentials, region, AWS
  config files that do not exist). The emulator is reset first (no faults,
  budgets on, empty call log). Add ``AWS_EC2_METADATA_SERVICE_ENDPOINT=ident.url``;
* ``fleet`` (function): a :class:`Fleet` whose names are unique to the test.

``Fleet.add_component`` builds, through boto3 against the emulator, what one
component runs on: a VPC with two subnets (shared by the fleet), an ALB and
its listener, the target group with the given health check and
deregistration delay, a launch template and an Auto Scaling group whose
instances are moto EC2 instances (or plain instances), the targets
registered as AWS would, and a CodeDeploy application and deployment group
(with or without CodeDeploy's own traffic control). It returns a
:class:`Component` with everything a test asserts on.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.support.alb_emulator import AlbEmulator
from tests.support.imds_server import Identity, ImdsServer

REGION = "eu-west-1"
ACCOUNT = "123456789012"
_AMI = "ami-12c6146b"  # one of moto's built-in images


@dataclass
class Instance:
    """One simulated instance: its id, metadata identity, and where its service listens."""

    id: str
    ident: Identity
    host: str = "127.0.0.1"
    port: int = 0


@dataclass
class Component:
    """What :meth:`Fleet.add_component` built."""

    name: str
    port: int
    tg_arn: str
    tg_name: str
    lb_arn: str
    asg_name: str | None
    app_name: str
    group_name: str
    instances: list[Instance]
    tg_arns: list[str] = field(default_factory=list)
    codedeploy_traffic: bool = False

    @property
    def instance_ids(self) -> list[str]:
        return [i.id for i in self.instances]


def aws_client(service: str, endpoint: str, region: str = REGION) -> Any:
    """A boto3 client for the bed, independent of this process's AWS_* variables.

    botocore's parameter validation is off: it enforces AWS's minimum health
    check interval (5 s) and timeout (2 s), and the bed uses 1 s to keep
    tests short. moto and the emulator take the values as given.
    """
    import boto3
    from botocore.config import Config

    return boto3.session.Session().client(
        service, region_name=region, endpoint_url=endpoint, aws_access_key_id="testing",
        aws_secret_access_key="testing",
        config=Config(retries={"mode": "standard", "max_attempts": 8},
                      parameter_validation=False))


class Fleet:
    """Builds components (ALB, target group, ASG, CodeDeploy group) with unique names."""

    def __init__(self, endpoint: str, imds: ImdsServer, *, emulator: AlbEmulator | None = None,
                 region: str = REGION, prefix: str = "") -> None:
        self.endpoint = endpoint
        self.imds = imds
        self.emulator = emulator
        self.region = region
        self.prefix = (re.sub(r"[^A-Za-z0-9]+", "-", prefix).strip("-")[:10] or "t").lower()
        self.components: dict[str, Component] = {}
        self._vpc: tuple[str, list[str]] | None = None
        self._clients: dict[str, Any] = {}

    def client(self, service: str) -> Any:
        if service not in self._clients:
            self._clients[service] = aws_client(service, self.endpoint, self.region)
        return self._clients[service]

    def _unique(self, name: str) -> str:
        short = re.sub(r"[^A-Za-z0-9]+", "-", name).strip("-")[:12] or "c"
        return f"{self.prefix}-{short}-{secrets.token_hex(3)}".replace("--", "-")

    def network(self) -> tuple[str, list[str]]:
        """The fleet's VPC and its two subnets (made once)."""
        if self._vpc is None:
            ec2 = self.client("ec2")
            vpc = ec2.create_vpc(CidrBlock="10.20.0.0/16")["Vpc"]["VpcId"]
            subnets = [
                ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.20.{n}.0/24",
                                  AvailabilityZone=f"{self.region}{az}")["Subnet"]["SubnetId"]
                for n, az in ((1, "a"), (2, "b"))
            ]
            self._vpc = (vpc, subnets)
        return self._vpc

    def add_component(
        self, name: str, port: int, *, instances: int = 1, min_size: int | None = None,
        max_size: int | None = None, health_path: str = "/health", interval: int = 2,
        healthy: int = 2, unhealthy: int = 2, timeout: int | None = None,
        dereg_delay: int = 1, in_asg: bool = True, attach_tgs_to_asg: bool = True,
        registered: bool = True, codedeploy_traffic: bool = False, matcher: str = "200",
        hosts: list[str] | None = None, ports: list[int] | None = None,
    ) -> Component:
        """Build one component's AWS side; see the module docstring.

        ``min_size`` defaults to ``instances - 1`` (at least 0), ``max_size``
        to ``instances + 1``. ``hosts`` / ``ports`` (one per instance) tell
        the emulator where each instance's service answers health checks.
        """
        unique = self._unique(name)
        vpc, subnets = self.network()
        lb_arn, tg_arn = self._load_balancer(unique, vpc, subnets, port, health_path, interval,
                                             timeout, healthy, unhealthy, dereg_delay, matcher)
        asg = None
        if in_asg:
            asg = unique
            low = max(instances - 1, 0) if min_size is None else min_size
            ids = self._asg(asg, subnets, instances, low, max_size or instances + 1,
                            [tg_arn] if attach_tgs_to_asg else [])
        else:
            ids = self._plain_instances(subnets[0], instances)
        if registered and not (in_asg and attach_tgs_to_asg):
            self.client("elbv2").register_targets(
                TargetGroupArn=tg_arn, Targets=[{"Id": i, "Port": port} for i in ids])
        self._codedeploy(unique, asg, unique[:32], codedeploy_traffic)
        made = Component(
            name=name, port=port, tg_arn=tg_arn, tg_name=unique[:32], lb_arn=lb_arn,
            asg_name=asg, app_name=unique, group_name=unique,
            instances=self._instances(ids, in_asg, port, hosts, ports),
            tg_arns=[tg_arn], codedeploy_traffic=codedeploy_traffic)
        if self.emulator is not None:
            self.emulator.sync(tg_arn)
        self.components[name] = made
        return made

    def _load_balancer(self, unique: str, vpc: str, subnets: list[str], port: int, path: str,
                       interval: int, timeout: int | None, healthy: int, unhealthy: int,
                       dereg_delay: int, matcher: str) -> tuple[str, str]:
        elb = self.client("elbv2")
        lb = elb.create_load_balancer(Name=unique[:32], Subnets=subnets, Scheme="internal",
                                      Type="application")["LoadBalancers"][0]["LoadBalancerArn"]
        tg = elb.create_target_group(
            Name=unique[:32], Protocol="HTTP", Port=port, VpcId=vpc, TargetType="instance",
            HealthCheckProtocol="HTTP", HealthCheckPath=path, HealthCheckPort="traffic-port",
            HealthCheckIntervalSeconds=interval,
            HealthCheckTimeoutSeconds=timeout if timeout is not None else max(1, interval - 1),
            HealthyThresholdCount=healthy, UnhealthyThresholdCount=unhealthy,
            Matcher={"HttpCode": matcher},
        )["TargetGroups"][0]["TargetGroupArn"]
        elb.modify_target_group_attributes(TargetGroupArn=tg, Attributes=[
            {"Key": "deregistration_delay.timeout_seconds", "Value": str(dereg_delay)}])
        elb.create_listener(LoadBalancerArn=lb, Protocol="HTTP", Port=80,
                            DefaultActions=[{"Type": "forward", "TargetGroupArn": tg}])
        return lb, tg

    def _asg(self, name: str, subnets: list[str], count: int, low: int, high: int,
             tgs: list[str]) -> list[str]:
        ec2, asg = self.client("ec2"), self.client("autoscaling")
        ec2.create_launch_template(LaunchTemplateName=name, LaunchTemplateData={
            "ImageId": _AMI, "InstanceType": "t3.micro"})
        args: dict[str, Any] = dict(
            AutoScalingGroupName=name, LaunchTemplate={"LaunchTemplateName": name,
                                                       "Version": "$Latest"},
            MinSize=low, MaxSize=high, DesiredCapacity=count,
            VPCZoneIdentifier=",".join(subnets), HealthCheckType="ELB",
            HealthCheckGracePeriod=60)
        if tgs:
            args["TargetGroupARNs"] = tgs
        asg.create_auto_scaling_group(**args)
        found = asg.describe_auto_scaling_groups(AutoScalingGroupNames=[name])
        return sorted(i["InstanceId"] for i in found["AutoScalingGroups"][0]["Instances"])

    def _plain_instances(self, subnet: str, count: int) -> list[str]:
        made = self.client("ec2").run_instances(ImageId=_AMI, MinCount=count, MaxCount=count,
                                                InstanceType="t3.micro", SubnetId=subnet)
        return sorted(i["InstanceId"] for i in made["Instances"])

    def _codedeploy(self, app: str, asg: str | None, tg_name: str, traffic: bool) -> None:
        cd = self.client("codedeploy")
        cd.create_application(applicationName=app, computePlatform="Server")
        args: dict[str, Any] = dict(
            applicationName=app, deploymentGroupName=app,
            serviceRoleArn=f"arn:aws:iam::{ACCOUNT}:role/codedeploy-service",
            deploymentStyle={"deploymentType": "IN_PLACE", "deploymentOption":
                             "WITH_TRAFFIC_CONTROL" if traffic else "WITHOUT_TRAFFIC_CONTROL"})
        if asg:
            args["autoScalingGroups"] = [asg]
        if traffic:
            args["loadBalancerInfo"] = {"targetGroupInfoList": [{"name": tg_name}]}
        cd.create_deployment_group(**args)

    def _instances(self, ids: list[str], in_asg: bool, port: int, hosts: list[str] | None,
                   ports: list[int] | None) -> list[Instance]:
        zones = {}
        for reservation in self.client("ec2").describe_instances(InstanceIds=ids)["Reservations"]:
            for item in reservation["Instances"]:
                zones[item["InstanceId"]] = item["Placement"]["AvailabilityZone"]
        out = []
        for n, iid in enumerate(ids):
            host = hosts[n] if hosts else "127.0.0.1"
            own_port = ports[n] if ports else port
            if self.emulator is not None and (hosts or ports):
                self.emulator.map_instance(iid, host, own_port if ports else None)
            ident = self.imds.identity(iid, region=self.region,
                                       lifecycle="InService" if in_asg else None,
                                       availability_zone=zones.get(iid))
            out.append(Instance(iid, ident, host, own_port))
        return out


# -- fixtures ---------------------------------------------------------------------------
@pytest.fixture(scope="session")
def imds_server() -> Iterator[ImdsServer]:
    server = ImdsServer()
    try:
        yield server
    finally:
        server.close()


@pytest.fixture(scope="session")
def alb_emulator(moto_server: str) -> Iterator[AlbEmulator]:
    emulator = AlbEmulator(moto_server)
    try:
        yield emulator
    finally:
        emulator.close()


@pytest.fixture
def traffic_env(alb_emulator: AlbEmulator, tmp_path: Path) -> Iterator[dict[str, str]]:
    """Variables for a child process that talks to AWS through the emulator."""
    alb_emulator.reset()
    yield {
        "AWS_ENDPOINT_URL": alb_emulator.url,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": REGION,
        "AWS_REGION": REGION,
        "AWS_CONFIG_FILE": str(tmp_path / "no-aws-config"),
        "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "no-aws-credentials"),
    }
    alb_emulator.clear_faults()


@pytest.fixture
def fleet(alb_emulator: AlbEmulator, imds_server: ImdsServer,
          request: pytest.FixtureRequest) -> Fleet:
    return Fleet(alb_emulator.url, imds_server, emulator=alb_emulator,
                 prefix=request.node.name.removeprefix("test_"))
