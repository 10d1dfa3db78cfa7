# Packer example: an Amazon Linux 2023 AMI baked with hdhooks by the shell
# provisioner. The bake kit is `make wheelhouse`'s
# dist/wheelhouse-cp311-x86_64.tar.gz (aarch64 for Graviton instance types).
#
#   make wheelhouse
#   packer init scripts/packer && packer build -var region=eu-west-1 scripts/packer

packer {
  required_plugins {
    amazon = {
      source  = "github.com/hashicorp/amazon"
      version = ">= 1.3.0"
    }
  }
}

variable "region" {
  type = string
}

variable "environment" {
  type    = string
  default = "default"
}

variable "instance_type" {
  type    = string
  default = "t3.small"
}

variable "bake_kit" {
  type    = string
  default = "dist/wheelhouse-cp311-x86_64.tar.gz"
}

locals {
  stamp = regex_replace(timestamp(), "[- TZ:]", "")
}

source "amazon-ebs" "al2023" {
  region        = var.region
  instance_type = var.instance_type
  ssh_username  = "ec2-user"
  ami_name      = "hdhooks-al2023-${local.stamp}"
  source_ami_filter {
    filters = {
      name                = "al2023-ami-2023.*-x86_64"
      virtualization-type = "hvm"
    }
    owners      = ["amazon"]
    most_recent = true
  }
  # The instances will require IMDSv2; so does the image's doctor.
  metadata_options {
    http_endpoint               = "enabled"
    http_tokens                 = "required"
    http_put_response_hop_limit = 2
  }
}

build {
  sources = ["source.amazon-ebs.al2023"]

  provisioner "file" {
    source      = var.bake_kit
    destination = "/tmp/hdhooks-bake-kit.tar.gz"
  }

  provisioner "shell" {
    environment_vars = [
      "REGION=${var.region}",
      "HDHOOKS_ENVIRONMENT=${var.environment}",
    ]
    execute_command = "chmod +x {{ .Path }}; sudo -E {{ .Vars }} {{ .Path }}"
    inline = [
      "set -euo pipefail",
      "dnf install -y python3.11 python3.11-pip ruby wget",
      "cd /tmp && wget -q https://aws-codedeploy-$REGION.s3.$REGION.amazonaws.com/latest/install && bash /tmp/install auto",
      "mkdir -p /tmp/hdhooks-bake && tar -xzf /tmp/hdhooks-bake-kit.tar.gz -C /tmp/hdhooks-bake",
      "bash /tmp/hdhooks-bake/wheelhouse-cp311-$(uname -m)/bake-ami.sh --environment \"$HDHOOKS_ENVIRONMENT\"",
      "systemctl stop codedeploy-agent || true",
      "rm -rf /tmp/hdhooks-bake /tmp/hdhooks-bake-kit.tar.gz /tmp/install /opt/codedeploy-agent/deployment-root/*",
    ]
  }
}
