"""What reconcile asks of AWS besides the traffic moves themselves: is a deployment still
running, which groups to wait for, "replace this instance".

Reconcile must never undo the journal of a deployment that is still going on
(between two hooks no lock is held: the agent may be copying files), so it
asks CodeDeploy. When an instance cannot be made healthy, reconcile marks it
Unhealthy so that its Auto Scaling group replaces it instead of leaving a
broken instance in service.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from hdhooks.aws.session import AwsCallFailed, aws_call, client

if TYPE_CHECKING:
    from hdhooks.aws.discovery import Discovery
    from hdhooks.aws.journal import Entry

#: CodeDeploy deployment states in which the deployment may still run a hook here.
RUNNING = frozenset({"Created", "Queued", "InProgress", "Baking", "Ready"})
#: Answers that mean "no such deployment": it cannot be running.
_GONE = {"DeploymentDoesNotExistException", "InvalidDeploymentIdException"}


def deployment_status(deployment_id: str, region: str | None = None) -> str:
    """The deployment's status (``InProgress``, ``Failed``, ...); ``Gone`` when unknown to
    CodeDeploy. Raises :class:`AwsCallFailed` when CodeDeploy cannot be asked."""
    codedeploy = client("codedeploy", region)
    try:
        with aws_call("codedeploy", "GetDeployment", deployment_id):
            answer = codedeploy.get_deployment(deploymentId=deployment_id)
    except AwsCallFailed as exc:
        if exc.code in _GONE:
            return "Gone"
        raise
    return str(answer.get("deploymentInfo", {}).get("status") or "Unknown")


def set_unhealthy(asg: str, instance_id: str, region: str | None = None) -> None:
    """Mark the instance Unhealthy so that ``asg`` replaces it (its grace period ignored:
    reconcile only does this once the application has failed its own check)."""
    autoscaling = client("autoscaling", region)
    with aws_call("autoscaling", "SetInstanceHealth", f"{instance_id} in {asg}"):
        autoscaling.set_instance_health(InstanceId=instance_id, HealthStatus="Unhealthy",
                                        ShouldRespectGracePeriod=False)



def discovery_for(state_dir: str, entries: Sequence[Entry]) -> Discovery:
    """What the entries' deployment discovered (its cache), else discovered again from them.

    Reconcile waits with :class:`hdhooks.aws.traffic.Mover`, which needs the
    target groups and their health-check settings. The hook that wrote the
    entries cached them; when that cache is gone, the entries name the
    instance, the Auto Scaling group and the groups, which is enough to read
    the settings again (no instance metadata needed).
    """
    from hdhooks.aws import discovery as d

    first = entries[0]
    for entry in entries:
        hit = d.cached(state_dir, d.Ask(entry.component, entry.deployment_id, None, None, (),
                                        None))
        if hit is not None and hit.groups:
            return hit
    params = {**first.params, **first.inverse_params}
    instance_id, region = str(params.get("instance_id") or ""), first.region
    asg = next((str(e.inverse_params.get("asg")) for e in entries
                if e.inverse_params.get("asg")), None)
    asg_arns: list[str] = []
    sizes = (0, 0, 0)
    if asg:
        sizes, asg_arns = d._asg_details(asg, region)
    named = [str(t.get("arn")) for e in entries for t in e.inverse_params.get("targets") or []]
    ports = [int(t.get("port")) for e in entries for t in e.inverse_params.get("targets") or []
             if t.get("port")]
    ask = d.Ask(first.component, first.deployment_id, first.deployment_group, None,
                tuple(named), ports[0] if ports else None)
    return d.Discovery(instance_id=instance_id, region=region, asg=asg, min_size=sizes[0],
                       desired=sizes[1], max_size=sizes[2],
                       groups=d._groups(ask, region, asg_arns))
