"""What provisioning tests share: an account's network in moto, and manifests for it.

:func:`make_network` creates, through boto3 against moto's server, what a
platform team has before its first ``provision deploy``: a VPC with two
subnets, an imported certificate, a hosted zone and the AMI's SSM parameter.
:func:`manifest_text` writes a small manifest that deploys into it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

ACCOUNT = "123456789012"  # moto's account
REGION = "eu-west-1"
STOCK_IMAGE = "ami-03cf127a"  # the first of moto's default AMIs


@dataclass(frozen=True)
class Network:
    vpc_id: str
    subnet_ids: tuple[str, str]
    certificate_arn: str
    hosted_zone_id: str
    domain: str
    ami_parameter: str


def make_network(name: str) -> Network:
    """A VPC, subnets, certificate, zone and AMI parameter named after ``name``."""
    import boto3
    import trustme

    ec2 = boto3.client("ec2", region_name=REGION)
    vpc = ec2.create_vpc(CidrBlock="10.20.0.0/16")["Vpc"]["VpcId"]
    subnets = tuple(ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.20.{i}.0/24",
                                      AvailabilityZone=f"{REGION}{zone}")["Subnet"]["SubnetId"]
                    for i, zone in ((1, "a"), (2, "b")))
    domain = f"{name}.example.com"
    cert = trustme.CA().issue_cert(f"*.{domain}")
    arn = boto3.client("acm", region_name=REGION).import_certificate(
        Certificate=cert.cert_chain_pems[0].bytes(),
        PrivateKey=cert.private_key_pem.bytes())["CertificateArn"]
    zone = boto3.client("route53", region_name=REGION).create_hosted_zone(
        Name=domain, CallerReference=name)["HostedZone"]["Id"].split("/")[-1]
    image = _an_image(ec2)
    parameter = f"/{name}/ami"
    boto3.client("ssm", region_name=REGION).put_parameter(
        Name=parameter, Type="String", Value=image, DataType="aws:ec2:image")
    return Network(vpc, subnets, arn, zone, domain, parameter)  # type: ignore[arg-type]


def _an_image(ec2: Any) -> str:
    """One of moto's stock AMIs; listing them all costs seconds, so one is asked for first."""
    from botocore.exceptions import ClientError

    try:
        return str(ec2.describe_images(ImageIds=[STOCK_IMAGE])["Images"][0]["ImageId"])
    except (ClientError, IndexError):  # another moto release: take any image
        return str(ec2.describe_images()["Images"][0]["ImageId"])


def manifest_text(platform: str, net: Network, *, account: str = ACCOUNT,
                  subnet_ids: tuple[str, ...] = (), region: str = REGION) -> str:
    """Two components (a JVM service, a Flutter web app) in one environment, ``test``."""
    return f"""\
defaults:
  sonar: {{enabled: false}}
components:
  - name: api
    kind: maven
    provision:
      port: 8081
      health_path: /ready
  - name: web
    kind: flutter
    flutter_version: "3.24.3"
    provision: {{traffic: codedeploy, deployment_config: "50%"}}
platform: {{name: {platform}, bitbucket_workspace: team}}
parameters: {{min_size: 0, desired_capacity: 1, max_size: 2}}
accounts:
  test:
    account_id: "{account}"
    branch: main
    domain: {net.domain}
    hosted_zone_id: {net.hosted_zone_id}
    regions:
      {region}:
        vpc_id: {net.vpc_id}
        subnet_ids: {json.dumps(list(subnet_ids or net.subnet_ids))}
        certificate_arn: {net.certificate_arn}
        connection_arn: arn:aws:codeconnections:{region}:{account}:connection/0a1b2c3d-4e5f
        ami_parameter: {net.ami_parameter}
"""
