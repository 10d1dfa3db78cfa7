"""Everything that talks to AWS; the only package that imports boto3.

boto3 and botocore are imported inside functions: a hook is a fresh process
and most hooks never call AWS. Tests point these modules at moto's server
with ``AWS_ENDPOINT_URL`` and dummy credentials; there is no test switch.
"""

from hdhooks.aws.session import AwsCallFailed, aws_call, client, resolve_region

__all__ = ["AwsCallFailed", "aws_call", "client", "resolve_region"]
