"""Provisioning as code: CloudFormation for every component, from the build manifest.

Owns: the provisioning part of the manifest (``manifest``: accounts, the
parameter hierarchy, per-component fleet settings, checked with positions),
rendering templates and parameter files (``render``), checking them with
cfn-lint (``validate``, with the known schema lags in ``lags``) and creating
or updating the stacks through change sets (``deploy``).

Must not import: ``instance``, ``agent``, ``lint``, ``cli``, click; boto3 is
reached only through ``hdhooks.aws.cfn``.
"""
