"""CloudFormation templates and parameter files from a checked manifest.

Templates are the same for every account: one shared template, one per
component and one dashboard template, so cfn-lint checks 2 + N files however
many accounts and regions there are. What differs between accounts lives in
``parameters/ENV/REGION/STACK.json`` (CloudFormation's own parameter file
format). ``stacks.json`` lists the stacks in the order they are deployed.
Templates are jinja2 files in ``hdhooks/templates/provision``, rendered in a
sandbox with strict undefined names; values are quoted as YAML scalars.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hdhooks.errors import CheckFailed, InputError
from hdhooks.metrics import NAMESPACE
from hdhooks.provision.manifest import Account, Component, Fleet, Manifest, Region

if TYPE_CHECKING:
    from jinja2 import Environment

TEMPLATE_DIR = Path(__file__).resolve().parent.parent / "templates" / "provision"
#: CloudFormation's limit for a template passed in the request body.
MAX_TEMPLATE_BYTES = 51_200
WAF_RULES = ("AWSManagedRulesCommonRuleSet", "AWSManagedRulesKnownBadInputsRuleSet",
             "AWSManagedRulesAmazonIpReputationList")
KIND_NAMES = {"maven": "jvm", "flutter": "flutter-web"}
SHARED_OUTPUTS = (
    ("KeyArn", "!GetAtt Key.Arn"), ("KeyAlias", "!Ref KeyAlias"),
    ("ArtifactBucket", "!Ref ArtifactBucket"),
    ("ArtifactBucketArn", "!GetAtt ArtifactBucket.Arn"),
    ("ConnectionArn", "!Ref ConnectionArn"),
    ("LoadBalancerArn", "!Ref LoadBalancer"),
    ("LoadBalancerFullName", "!GetAtt LoadBalancer.LoadBalancerFullName"),
    ("LoadBalancerDnsName", "!GetAtt LoadBalancer.DNSName"),
    ("LoadBalancerZoneId", "!GetAtt LoadBalancer.CanonicalHostedZoneID"),
    ("LoadBalancerSecurityGroup", "!GetAtt LoadBalancerSecurityGroup.GroupId"),
    ("HttpsListenerArn", "!Ref HttpsListener"),
    ("CodeDeployServiceRoleArn", "!GetAtt CodeDeployServiceRole.Arn"),
    ("AlarmTopicArn", "!Ref AlarmTopic"), ("HookLogGroup", "!Ref HookLogGroup"),
)
COMPONENT_OUTPUTS = (
    ("PipelineName", "!Ref Pipeline"), ("BuildProjectName", "!Ref BuildProject"),
    ("ApplicationName", "!Ref Application"), ("DeploymentGroupName", "!Ref DeploymentGroup"),
    ("AutoScalingGroupName", "!Ref AutoScalingGroup"), ("TargetGroupArn", "!Ref TargetGroup"),
    ("ListenerRuleArn", "!Ref ListenerRule"), ("InstanceRoleArn", "!GetAtt InstanceRole.Arn"),
    ("LaunchTemplateId", "!Ref LaunchTemplate"), ("LogGroupName", "!Ref LogGroup"),
)
ELB_ALARMS = (
    {"id": "UnhealthyHostsAlarm", "what": "unhealthy hosts in the target group",
     "metric": "UnHealthyHostCount", "statistic": "Maximum", "extended": False, "periods": 3,
     "threshold": "UnhealthyHostsThreshold"},
    {"id": "Target5xxAlarm", "what": "5xx answers from the targets",
     "metric": "HTTPCode_Target_5XX_Count", "statistic": "Sum", "extended": False,
     "periods": 3, "threshold": "Target5xxThreshold"},
    {"id": "LatencyP99Alarm", "what": "p99 response time of the targets",
     "metric": "TargetResponseTime", "statistic": "p99", "extended": True, "periods": 5,
     "threshold": "LatencyP99Seconds"},
)


@dataclass(frozen=True)
class Stack:
    """One stack of an environment: its name, template and the stacks it imports from."""

    name: str
    template: str  # path relative to the output folder
    component: str = ""
    needs: tuple[str, ...] = ()


@dataclass(frozen=True)
class Rendered:
    """Everything ``render`` writes, keyed by relative path, and the stacks in order."""

    files: dict[str, str]
    stacks: tuple[Stack, ...]
    environments: tuple[str, ...]

    def text(self, path: str) -> str:
        return self.files[path]


class TemplateTooLarge(CheckFailed):
    """A rendered template is over CloudFormation's request-body limit."""


@lru_cache(maxsize=1)
def environment() -> Environment:
    from jinja2 import FileSystemLoader, StrictUndefined
    from jinja2.sandbox import SandboxedEnvironment

    from hdhooks.build.render import yaml_quote

    env = SandboxedEnvironment(loader=FileSystemLoader(str(TEMPLATE_DIR)),
                               undefined=StrictUndefined, autoescape=False, trim_blocks=True,
                               lstrip_blocks=True, keep_trailing_newline=True)
    env.filters["q"] = yaml_quote
    return env


def stacks_of(manifest: Manifest) -> tuple[Stack, ...]:
    """Every stack of an environment, in deployment order (shared first)."""
    shared = f"{manifest.platform}-shared"
    stacks = [Stack(shared, "templates/shared.yml")]
    stacks += [Stack(f"{manifest.platform}-{c.name}", f"templates/components/{c.name}.yml",
                     c.name, (shared,)) for c in manifest.components]
    stacks.append(Stack(f"{manifest.platform}-dashboard", "templates/dashboard.yml", "",
                        (shared,)))
    return tuple(stacks)


def render_manifest(manifest: Manifest, environments: tuple[str, ...] = ()) -> Rendered:
    """Templates for every stack and parameter files for ``environments`` (default: all)."""
    from hdhooks.build.render import render_components

    chosen = tuple(environments) or tuple(a.environment for a in manifest.accounts)
    accounts = [manifest.account(env) for env in chosen]
    buildspecs = {r.name: r.text for r in render_components(
        [c.build for c in manifest.components], manifest.path)}
    files: dict[str, str] = {"templates/shared.yml": _shared(manifest),
                             "templates/dashboard.yml": _dashboard(manifest)}
    for component in manifest.components:
        path = f"templates/components/{component.name}.yml"
        files[path] = _component(manifest, component, buildspecs[component.name])
    stacks = stacks_of(manifest)
    for account in accounts:
        for region in account.regions:
            for stack in stacks:
                values = stack_parameters(manifest, account, region, stack)
                files[parameter_file(account.environment, region.name, stack.name)] = \
                    _parameter_json(values)
    files["stacks.json"] = _index(manifest, accounts, stacks)
    too_big = [p for p, text in files.items()
               if p.startswith("templates/") and len(text.encode()) > MAX_TEMPLATE_BYTES]
    if too_big:
        raise TemplateTooLarge(f"{', '.join(too_big)}: over CloudFormation's "
                               f"{MAX_TEMPLATE_BYTES} bytes for a template body",
                               hint="shorten the buildspec or split the component")
    return Rendered(files, stacks, chosen)


def parameter_file(environment: str, region: str, stack: str) -> str:
    return f"parameters/{environment}/{region}/{stack}.json"


def _parameter_json(values: dict[str, str]) -> str:
    doc = [{"ParameterKey": k, "ParameterValue": v} for k, v in values.items()]
    return json.dumps(doc, indent=2) + "\n"


def _render(name: str, **context: Any) -> str:
    text = environment().get_template(name).render(context)
    return "\n".join(line.rstrip() for line in text.splitlines()).strip("\n") + "\n"


def ami_parameter(manifest: Manifest, region: Region) -> str:
    """The SSM parameter the fleet reads its AMI from (the shared stack writes a fixed id)."""
    return region.ami_parameter or f"/hdhooks/{manifest.platform}/ami"


def stack_parameters(manifest: Manifest, account: Account, region: Region,
                     stack: Stack) -> dict[str, str]:
    """The parameter values of ``stack`` in one account and region."""
    common = {"Environment": account.environment}
    if stack.template == "templates/shared.yml":
        return {**common, "VpcId": region.vpc_id, "SubnetIds": ",".join(region.subnet_ids),
                "CertificateArn": region.certificate_arn,
                "ConnectionArn": region.connection_arn, "AmiId": region.ami_id,
                "AmiParameterName": ami_parameter(manifest, region)}
    shared = {"SharedStack": f"{manifest.platform}-shared"}
    if not stack.component:
        return {**common, **shared}
    component = next(c for c in manifest.components if c.name == stack.component)
    fleet = component.fleets[account.environment]
    return {**common, **shared, "VpcId": region.vpc_id,
            "SubnetIds": ",".join(region.subnet_ids),
            "ImageId": ami_parameter(manifest, region), "Domain": account.domain,
            "HostedZoneId": account.hosted_zone_id, "TriggerBranch": account.branch,
            "SourceBranch": account.source_branch, **fleet_parameters(fleet)}


def fleet_parameters(fleet: Fleet) -> dict[str, str]:
    """A component's fleet settings as the template's parameters."""
    config, healthy = f"CodeDeployDefault.{fleet.deployment_config}", "0"
    if fleet.deployment_config.endswith("%"):
        config, healthy = "FleetPercent", str(100 - int(fleet.deployment_config[:-1]))
    return {
        "InstanceType": fleet.instance_type, "MinSize": str(fleet.min_size),
        "DesiredCapacity": str(fleet.desired_capacity), "MaxSize": str(fleet.max_size),
        "DeploymentConfig": config, "MinimumHealthyPercent": healthy,
        "TrafficControl": "WITH_TRAFFIC_CONTROL" if fleet.traffic == "codedeploy"
        else "WITHOUT_TRAFFIC_CONTROL",
        "NeedsApproval": "true" if fleet.approval else "false",
        "BuildCompute": fleet.build_compute,
        "LatencyP99Seconds": f"{fleet.alarms.p99_latency_ms / 1000:g}",
        "Target5xxThreshold": str(fleet.alarms.target_5xx),
        "UnhealthyHostsThreshold": str(fleet.alarms.unhealthy_hosts),
        "HookFailuresThreshold": str(fleet.alarms.hook_failures),
    }


def _shared(manifest: Manifest) -> str:
    return _render("shared.yml.j2", source=Path(manifest.path).name,
                   platform=manifest.platform, waf_rules=WAF_RULES, namespace=NAMESPACE,
                   outputs=SHARED_OUTPUTS)


def _component(manifest: Manifest, component: Component, buildspec: str) -> str:
    from hdhooks.appspec.model import SCRIPTABLE_EVENTS
    from hdhooks.provision.policy import SOURCE, instance_policy

    secret = component.build.sonar.token_secret.split(":", 1)[0]
    return _render(
        "component.yml.j2", source=Path(manifest.path).name, platform=manifest.platform,
        c=component.build, kind=KIND_NAMES[component.build.kind],
        stack=f"{manifest.platform}-{component.name}", port=component.port,
        health_path=component.health_path, priority=component.priority,
        repository=component.repository or f"{manifest.workspace}/{component.name}",
        image=manifest.build_image, buildspec=buildspec, sonar_secret=secret,
        namespace=NAMESPACE, hook_events=SCRIPTABLE_EVENTS,
        hook_metric_ids=[f"e{i}" for i in range(len(SCRIPTABLE_EVENTS))],
        elb_alarms=ELB_ALARMS, policy_source=SOURCE,
        instance_policy=instance_policy(manifest.platform, component.name),
        outputs=COMPONENT_OUTPUTS)


def _dashboard(manifest: Manifest) -> str:
    return _render("dashboard.yml.j2", source=Path(manifest.path).name,
                   platform=manifest.platform, count=len(manifest.components),
                   body=json.dumps(dashboard_body(manifest), separators=(",", ":")))


def dashboard_body(manifest: Manifest) -> dict[str, Any]:
    """The dashboard's widgets; ``${LoadBalancer}`` and ``${AWS::Region}`` are substituted."""
    elb = "{AWS/ApplicationELB,LoadBalancer,TargetGroup} LoadBalancer=\"${LoadBalancer}\""
    graphs = [
        ("Target 5xx", f"SEARCH('{elb} MetricName=\"HTTPCode_Target_5XX_Count\"', 'Sum', 60)"),
        ("Unhealthy hosts", f"SEARCH('{elb} MetricName=\"UnHealthyHostCount\"', "
                            "'Maximum', 60)"),
        ("p99 response time (s)", f"SEARCH('{elb} MetricName=\"TargetResponseTime\"', "
                                  "'p99', 60)"),
        ("hdhooks hook failures", f"SEARCH('{{{NAMESPACE},Component,Event}} "
                                  "MetricName=\"Failed\"', 'Sum', 300)"),
        ("hdhooks hook duration (ms)", f"SEARCH('{{{NAMESPACE},Component,Event}} "
                                       "MetricName=\"Duration\"', 'Maximum', 300)"),
        ("Instances in service", "SEARCH('{AWS/AutoScaling,AutoScalingGroupName} "
                                 f"MetricName=\"GroupInServiceInstances\" {manifest.platform}-',"
                                 " 'Minimum', 60)"),
    ]
    widgets = [{"type": "metric", "x": 12 * (i % 2), "y": 6 * (i // 2), "width": 12,
                "height": 6, "properties": {"title": title, "region": "${AWS::Region}",
                                            "view": "timeSeries", "metrics": [
                                                [{"expression": expr, "id": f"q{i}"}]]}}
               for i, (title, expr) in enumerate(graphs)]
    return {"widgets": widgets}


def _index(manifest: Manifest, accounts: list[Account], stacks: tuple[Stack, ...]) -> str:
    doc = {
        "platform": manifest.platform,
        "environments": {a.environment: {"account_id": a.account_id,
                                         "regions": [r.name for r in a.regions]}
                         for a in accounts},
        "stacks": [{"name": s.name, "template": s.template, "needs": list(s.needs)}
                   for s in stacks],
    }
    return json.dumps(doc, indent=2) + "\n"


def write_rendered(rendered: Rendered, out_dir: str) -> list[Path]:
    """Write every file under ``out_dir`` atomically; folders are made, never followed."""
    from hdhooks.fsutil import atomic_write, ensure_dir

    root = Path(out_dir)
    folders = {Path(*Path(rel).parts[:depth]) for rel in rendered.files
               for depth in range(1, len(Path(rel).parts))}
    try:
        root.mkdir(parents=True, exist_ok=True)  # the folder the user named, as given
    except OSError as exc:
        raise InputError(f"{out_dir}: cannot make the output folder: "
                         f"{exc.strerror or exc}", hint="give a folder you can write") from None
    # Every level is checked from the top down before any file is written, so a
    # link planted at any level (out/templates -> /etc) is refused, not followed.
    for folder in sorted(folders, key=lambda f: (len(f.parts), str(f))):
        ensure_dir(root / folder)
    written = []
    for rel, text in sorted(rendered.files.items()):
        path = root / rel
        atomic_write(path, text, mode=0o644)
        written.append(path)
    return written
