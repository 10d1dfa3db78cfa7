"""``hdhooks doctor`` against real parts: moto's server, the local IMDSv2 server, systemctl.

Each test builds an image tree (``--root``): state directories, the
CodeDeploy agent's version file and a ``codedeploy-agent`` unit that
Debian's daemonless systemctl really starts. AWS is moto over HTTP
(STS, EC2 MetadataOptions, Auto Scaling Standby, CodeDeploy; IAM
simulation is not in moto, which shows the "listed, not simulated" path);
the instance's metadata is the IMDSv2 server fixture. Every fail is
asserted with its fix text.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

from tests.e2e.hookkit import SYSTEMCTL
from tests.support.imds_server import Identity, ImdsServer

REGION = "eu-west-1"
AMI = "ami-12c6146b"  # one of moto's built-in images

pytestmark = [
    pytest.mark.skipif(os.geteuid() != 0, reason="state directories must be root's"),
    pytest.mark.skipif(not os.access(SYSTEMCTL, os.X_OK), reason="daemonless systemctl "
                       "missing: run scripts/test-setup.d/systemctl.sh"),
]


def client(url: str, service: str) -> Any:
    return boto3.client(service, endpoint_url=url, region_name=REGION,
                        aws_access_key_id="testing", aws_secret_access_key="testing")


@pytest.fixture(scope="module")
def cloud(moto_server: str) -> dict[str, str]:
    """Instances with tight and loose metadata options, one in Standby, a deployment."""
    ec2 = client(moto_server, "ec2")
    made: dict[str, str] = {}
    for name, options in (("tight", {"HttpTokens": "required", "HttpPutResponseHopLimit": 2}),
                          ("loose", {"HttpTokens": "optional", "HttpPutResponseHopLimit": 1})):
        run = ec2.run_instances(ImageId=AMI, MinCount=1, MaxCount=1, InstanceType="t3.micro",
                                MetadataOptions={**options, "HttpEndpoint": "enabled"})
        made[name] = run["Instances"][0]["InstanceId"]
    asg = client(moto_server, "autoscaling")
    ec2.create_launch_template(LaunchTemplateName="doctor-lt",
                               LaunchTemplateData={"ImageId": AMI, "InstanceType": "t3.micro"})
    asg.create_auto_scaling_group(
        AutoScalingGroupName="doctor-asg", MinSize=0, MaxSize=2, DesiredCapacity=1,
        LaunchTemplate={"LaunchTemplateName": "doctor-lt"}, AvailabilityZones=[f"{REGION}a"])
    group = asg.describe_auto_scaling_groups(AutoScalingGroupNames=["doctor-asg"])
    made["standby"] = group["AutoScalingGroups"][0]["Instances"][0]["InstanceId"]
    asg.enter_standby(AutoScalingGroupName="doctor-asg", InstanceIds=[made["standby"]],
                      ShouldDecrementDesiredCapacity=True)
    cd = client(moto_server, "codedeploy")
    cd.create_application(applicationName="doctor-app", computePlatform="Server")
    cd.create_deployment_group(
        applicationName="doctor-app", deploymentGroupName="doctor-group",
        serviceRoleArn="arn:aws:iam::123456789012:role/codedeploy",
        deploymentStyle={"deploymentType": "IN_PLACE",
                         "deploymentOption": "WITH_TRAFFIC_CONTROL"},
        loadBalancerInfo={"targetGroupInfoList": [{"name": "api-tg"}]})
    deployment = cd.create_deployment(
        applicationName="doctor-app", deploymentGroupName="doctor-group",
        revision={"revisionType": "S3",
                  "s3Location": {"bucket": "b", "key": "api.zip", "bundleType": "zip"}})
    made["deployment"] = deployment["deploymentId"]
    return made


class Image:
    """An image tree for ``--root``, with a running (or stopped) agent unit."""

    def __init__(self, root: Path) -> None:
        self.root = root
        for directory in ("etc/hdhooks", "var/lib/hdhooks", "var/log/hdhooks"):
            (root / directory).mkdir(parents=True)
            (root / directory).chmod(0o755)
        self.agent("OFFICIAL_1.7.1-110_rpm")
        (root / "usr" / "local" / "bin").mkdir(parents=True)
        (root / "usr" / "local" / "bin" / "hdhooks").symlink_to(
            Path(sys.executable).parent / "hdhooks")
        units = root / "etc" / "systemd" / "system"
        units.mkdir(parents=True)
        (units / "codedeploy-agent.service").write_text(
            "[Unit]\nDescription=stand-in agent\n[Service]\nExecStart=/bin/sleep 600\n")
        self.started = False

    def agent(self, version: str) -> None:
        (self.root / "opt" / "codedeploy-agent").mkdir(parents=True, exist_ok=True)
        (self.root / "opt" / "codedeploy-agent" / ".version").write_text(version + "\n")

    def systemctl(self, verb: str) -> None:
        subprocess.run([str(SYSTEMCTL), "--root", str(self.root), verb, "codedeploy-agent"],
                       check=True, timeout=60, capture_output=True)
        self.started = verb == "start"

    @property
    def state_dir(self) -> Path:
        return self.root / "var" / "lib" / "hdhooks"


@pytest.fixture
def image(tmp_path: Path) -> Iterator[Image]:
    made = Image(tmp_path / "image")
    try:
        yield made
    finally:
        if made.started:
            made.systemctl("stop")


def doctor_env(moto_server: str, ident: Identity | None, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "HDHOOKS_"))}
    env.update(AWS_ENDPOINT_URL=moto_server, AWS_ACCESS_KEY_ID="testing",
               AWS_SECRET_ACCESS_KEY="testing", AWS_REGION=REGION,
               AWS_CONFIG_FILE="/nonexistent", AWS_SHARED_CREDENTIALS_FILE="/nonexistent",
               HDHOOKS_SYSTEMCTL=str(SYSTEMCTL))
    if ident is not None:
        env["AWS_EC2_METADATA_SERVICE_ENDPOINT"] = ident.url
    env.update(extra)
    return {k: v for k, v in env.items() if v}


def doctor(hdhooks_bin: str, image: Image, env: dict[str, str],
           *args: str) -> tuple[int, dict[str, dict[str, str]], str]:
    """Exit code, findings by check name (JSON), and the text table's stderr summary."""
    done = subprocess.run([hdhooks_bin, "doctor", "--root", str(image.root), "--format",
                           "json", *args], capture_output=True, text=True, timeout=180, env=env)
    assert "Traceback" not in done.stderr, done.stderr
    report = json.loads(done.stdout)
    assert report["ok"] is (done.returncode == 0)
    return done.returncode, {c["check"]: c for c in report["checks"]}, done.stderr


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_a_sound_instance_passes(hdhooks_bin: str, image: Image, moto_server: str,
                                 cloud: dict[str, str], imds_server: ImdsServer) -> None:
    image.systemctl("start")
    ident = imds_server.identity(cloud["tight"], region=REGION, lifecycle=None)
    code, found, _ = doctor(hdhooks_bin, image, doctor_env(moto_server, ident))
    assert code == 0, [f for f in found.values() if f["status"] == "fail"]
    for name in ("codedeploy agent", "codedeploy agent running", "imdsv2", "imdsv2 required",
                 "region", "credentials", "metadata options", "https AWS_ENDPOINT_URL",
                 "clock", "standby", "journal", "component configs", "iam actions"):
        assert found[name]["status"] == "ok", found[name]
    assert "123456789012" in found["credentials"]["detail"]
    assert "HttpTokens=required, hop limit 2" in found["metadata options"]["detail"]

    text = subprocess.run([hdhooks_bin, "doctor", "--root", str(image.root)],
                          capture_output=True, text=True, timeout=180,
                          env=doctor_env(moto_server, ident))
    assert text.returncode == 0
    assert text.stderr.strip().splitlines()[-1].startswith("doctor: OK (")
    assert all(line.split()[0] in ("OK", "WARN", "SKIP") or line.startswith(" ")
               for line in text.stdout.splitlines())


def test_imdsv1_allowed_is_a_warning_and_region_comes_from_imds(hdhooks_bin: str, image: Image,
                                                  moto_server: str, cloud: dict[str, str],
                                                  imds_server: ImdsServer) -> None:
    image.systemctl("start")
    ident = imds_server.identity(cloud["loose"], region=REGION, lifecycle=None, allow_v1=True)
    code, found, _ = doctor(hdhooks_bin, image, doctor_env(moto_server, ident, AWS_REGION=""))
    assert code == 0, [f for f in found.values() if f["status"] == "fail"]
    assert found["region"]["detail"] == f"{REGION} (from instance metadata)"
    assert found["imdsv2 required"]["status"] == "warn"
    assert "--http-tokens required" in found["imdsv2 required"]["fix"]
    assert found["metadata options"]["status"] == "warn"
    assert f"--instance-id {cloud['loose']} --http-tokens required" in (
        found["metadata options"]["fix"])


def test_an_instance_left_in_standby_fails(hdhooks_bin: str, image: Image, moto_server: str,
                                           cloud: dict[str, str],
                                           imds_server: ImdsServer) -> None:
    image.systemctl("start")
    ident = imds_server.identity(cloud["standby"], region=REGION, lifecycle="Standby")
    code, found, _ = doctor(hdhooks_bin, image, doctor_env(moto_server, ident))
    assert code == 1
    assert found["standby"]["status"] == "fail"
    assert "exit-standby" in found["standby"]["fix"]


def test_unreachable_metadata_service_fails(hdhooks_bin: str, image: Image, moto_server: str,
                                            cloud: dict[str, str],
                                            imds_server: ImdsServer) -> None:
    image.systemctl("start")
    ident = imds_server.identity(cloud["tight"], region=REGION, lifecycle=None)
    ident.down = True
    code, found, _ = doctor(hdhooks_bin, image, doctor_env(moto_server, ident, AWS_REGION=""))
    assert code == 1
    assert found["imdsv2"]["status"] == "fail"
    assert "modify-instance-metadata-options" in found["imdsv2"]["fix"]
    assert found["region"]["status"] == "fail"
    assert "AWS_REGION" in found["region"]["fix"]
    assert found["credentials"]["status"] == "skip"


def test_no_credentials_fails(hdhooks_bin: str, image: Image, moto_server: str,
                              cloud: dict[str, str], imds_server: ImdsServer) -> None:
    image.systemctl("start")
    ident = imds_server.identity(cloud["tight"], region=REGION, lifecycle=None)
    env = doctor_env(moto_server, ident, AWS_ACCESS_KEY_ID="", AWS_SECRET_ACCESS_KEY="")
    code, found, _ = doctor(hdhooks_bin, image, env)
    assert code == 1
    assert found["credentials"]["status"] == "fail"
    assert "instance profile" in found["credentials"]["fix"]
    assert found["metadata options"]["status"] == "skip"


def test_unreachable_endpoint_fails(hdhooks_bin: str, image: Image, cloud: dict[str, str],
                                    imds_server: ImdsServer) -> None:
    image.systemctl("start")
    ident = imds_server.identity(cloud["tight"], region=REGION, lifecycle=None)
    dead = f"http://127.0.0.1:{closed_port()}"
    code, found, _ = doctor(hdhooks_bin, image, doctor_env(dead, ident, AWS_MAX_ATTEMPTS="1"))
    assert code == 1
    assert found["https AWS_ENDPOINT_URL"]["status"] == "fail"
    assert "VPC endpoint" in found["https AWS_ENDPOINT_URL"]["fix"]
    assert found["clock"]["status"] == "warn"


def test_agent_stopped_and_too_old_for_al2023(hdhooks_bin: str, image: Image,
                                              moto_server: str, cloud: dict[str, str],
                                              imds_server: ImdsServer) -> None:
    image.agent("OFFICIAL_1.5.0-12_rpm")
    (image.root / "etc" / "os-release").write_text('ID="amzn"\nVERSION_ID="2023"\n')
    ident = imds_server.identity(cloud["tight"], region=REGION, lifecycle=None)
    code, found, _ = doctor(hdhooks_bin, image, doctor_env(moto_server, ident))
    assert code == 1
    assert found["codedeploy agent"]["status"] == "fail"
    assert "1.6 or newer" in found["codedeploy agent"]["fix"]
    assert found["codedeploy agent running"]["status"] == "fail"
    assert "systemctl enable --now codedeploy-agent" in found["codedeploy agent running"]["fix"]


def deploy_component(image: Image, deployment_id: str, tmp_path: Path) -> None:
    """A component as ApplicationStart records it, with hdhooks' traffic control on."""
    from hdhooks.config.cache import load_config_data
    from hdhooks.config.state import ComponentState, write_state

    release = image.root / "srv" / "api" / "releases" / "r1"
    (release / "deploy").mkdir(parents=True)
    (release / "deploy" / "hdhooks.yml").write_text(
        "component: api\nservice:\n  backend: process\n  command: [python3, app.py]\n"
        "  port: 18099\nreleases:\n  base_dir: /srv/api\nssm:\n  paths: [/api/prod/]\n"
        "traffic:\n  mode: hdhooks\n  target_groups: [api-tg]\n")
    (image.root / "srv" / "api" / "current").symlink_to("releases/r1")
    data = load_config_data(str(release), cache_dir=str(tmp_path / "cache"))
    write_state(str(image.state_dir), ComponentState(
        component="api", base_dir="/srv/api", deployment_group="doctor-group",
        deployment_id=deployment_id, config=data))


def test_codedeploy_traffic_control_with_hdhooks_fails(hdhooks_bin: str, image: Image,
                                                       moto_server: str,
                                                       cloud: dict[str, str],
                                                       imds_server: ImdsServer,
                                                       tmp_path: Path) -> None:
    image.systemctl("start")
    deploy_component(image, cloud["deployment"], tmp_path)
    ident = imds_server.identity(cloud["tight"], region=REGION, lifecycle=None)
    code, found, _ = doctor(hdhooks_bin, image, doctor_env(moto_server, ident))
    assert code == 1
    traffic = found["traffic api"]
    assert traffic["status"] == "fail"
    assert "doctor-group" in traffic["detail"]
    assert "WITHOUT_TRAFFIC_CONTROL" in traffic["fix"]
    assert found["config api"]["status"] == "ok"
    # moto has no SimulatePrincipalPolicy: the actions are listed instead.
    iam = found["iam actions"]
    assert iam["status"] == "warn"
    assert "ssm:GetParametersByPath" in iam["detail"]
    assert "elasticloadbalancing:DeregisterTargets" in iam["detail"]


# --- what a bake checks: files only ------------------------------------------------

def bake_doctor(hdhooks_bin: str, image: Image) -> tuple[int, dict[str, dict[str, str]]]:
    env = doctor_env("", None)
    code, found, _ = doctor(hdhooks_bin, image, env, "--bake")
    assert "imdsv2" not in found and "codedeploy agent running" not in found
    return code, found


def test_bake_mode_passes_a_good_image(hdhooks_bin: str, image: Image) -> None:
    code, found = bake_doctor(hdhooks_bin, image)
    assert code == 0, found


def test_bake_mode_hdhooks_not_on_path(hdhooks_bin: str, image: Image) -> None:
    (image.root / "usr" / "local" / "bin" / "hdhooks").unlink()
    code, found = bake_doctor(hdhooks_bin, image)
    assert code == 1
    assert found["hdhooks on PATH"]["status"] == "fail"
    assert "ln -s /opt/hdhooks/venv/bin/hdhooks /usr/local/bin/hdhooks" in (
        found["hdhooks on PATH"]["fix"])


@pytest.mark.parametrize(("version", "fix"), [
    (None, "install it: dnf install -y ruby wget"),
    ("OFFICIAL_1.1.2-9_rpm", "cannot use IMDSv2"),
    ("garbage", "reinstall it"),
])
def test_bake_mode_agent_problems(hdhooks_bin: str, image: Image, version: str | None,
                                  fix: str) -> None:
    if version is None:
        (image.root / "opt" / "codedeploy-agent" / ".version").unlink()
    else:
        image.agent(version)
    code, found = bake_doctor(hdhooks_bin, image)
    assert code == 1
    assert found["codedeploy agent"]["status"] == "fail"
    assert fix in found["codedeploy agent"]["fix"]


def test_bake_mode_unsafe_state_directories(hdhooks_bin: str, image: Image,
                                            tmp_path: Path) -> None:
    (image.root / "var" / "log" / "hdhooks").chmod(0o777)
    (image.root / "etc" / "hdhooks").rmdir()
    (image.root / "etc" / "hdhooks").symlink_to(tmp_path)
    code, found = bake_doctor(hdhooks_bin, image)
    assert code == 1
    log = found["dir /var/log/hdhooks"]
    assert log["status"] == "fail" and "group or others may write" in log["detail"]
    assert log["fix"] == "chown root:root /var/log/hdhooks && chmod 0755 /var/log/hdhooks"
    etc = found["dir /etc/hdhooks"]
    assert etc["status"] == "fail" and "symbolic link" in etc["detail"]
    assert etc["fix"].startswith("rm /etc/hdhooks && install -d")


def test_bake_mode_open_journal_entry_fails(hdhooks_bin: str, image: Image) -> None:
    from hdhooks.aws.journal import Journal

    Journal(str(image.state_dir)).begin(
        component="api", region=REGION, deployment_group="g", deployment_id="d-1",
        action="EnterStandby", params={"asg": "a", "instance_id": "i-1"},
        inverse_params={"asg": "a", "instance_id": "i-1"}, event="ApplicationStop")
    code, found = bake_doctor(hdhooks_bin, image)
    assert code == 1
    assert found["journal"]["status"] == "fail"
    assert "hdhooks reconcile" in found["journal"]["fix"]


def test_bake_mode_broken_state_record_fails(hdhooks_bin: str, image: Image) -> None:
    (image.state_dir / "components").mkdir()
    (image.state_dir / "components" / "api.json").write_text("{not json")
    code, found = bake_doctor(hdhooks_bin, image)
    assert code == 1
    assert found["state record"]["status"] == "fail"
    assert "not JSON" in found["state record"]["detail"]


@pytest.mark.parametrize(("args", "message"), [
    (["--format", "yaml"], "'yaml' is not one of 'text', 'json'"),
    (["--root", "/nonexistent/root"], "does not exist"),
    (["--bogus"], "No such option '--bogus'"),
])
def test_usage_errors(hdhooks_bin: str, args: list[str], message: str) -> None:
    done = subprocess.run([hdhooks_bin, "doctor", *args], capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("hdhooks: error: "), lines
    assert message in lines[0]


def test_bake_mode_never_waits_on_a_fifo(hdhooks_bin: str, image: Image) -> None:
    version = image.root / "opt" / "codedeploy-agent" / ".version"
    version.unlink()
    os.mkfifo(version)
    code, found = bake_doctor(hdhooks_bin, image)
    assert code == 1
    assert "not a regular file" in found["codedeploy agent"]["detail"]
