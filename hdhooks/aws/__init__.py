"""Everything that talks to AWS; the only package that imports boto3.

Owns: clients with hdhooks' retry policy, timeouts and one error mapping that
covers creating the client too (``session``), and SSM Parameter Store and
Secrets Manager values (``params``).

boto3 and botocore are imported inside functions: a hook is a fresh process
and most hooks never call AWS. Tests point these modules at moto's server
with ``AWS_ENDPOINT_URL`` and dummy credentials; there is no test switch.

Must not import: ``instance``, ``agent``, ``cli``, click.
"""
