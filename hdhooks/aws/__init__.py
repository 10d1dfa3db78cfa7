"""Everything that talks to AWS; the only package that imports boto3.

Owns: clients with hdhooks' retry policy, timeouts and one error mapping that
covers creating the client too, and the count of API calls per operation
(``session``); SSM Parameter Store and Secrets Manager values (``params``);
traffic control: the IMDSv2 client (``imds``, standard library only), what
the instance serves in (``discovery``, cached per deployment), poll
schedules and verdicts (``poll``, pure), block/allow (``traffic``) and the
journal of mutating actions with their inverses (``journal``).

boto3 and botocore are imported inside functions: a hook is a fresh process
and most hooks never call AWS. Tests point these modules at moto's server
with ``AWS_ENDPOINT_URL`` (and IMDS with ``AWS_EC2_METADATA_SERVICE_ENDPOINT``)
and dummy credentials; there is no test switch.

Must not import: ``instance``, ``agent``, ``cli``, click.
"""
