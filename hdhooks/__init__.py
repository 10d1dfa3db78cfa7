"""hdhooks: fast, safe and boring AWS CodeDeploy deployments to EC2."""

__version__ = "0.1.0"
