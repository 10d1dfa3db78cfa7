"""CodeBuild buildspecs (version 0.2), validated before CodeBuild reads them.

Owns: validation (``validate``), the rules for the top level, ``env`` and
``proxy`` (``schema``), ``phases`` (``phases``), reports/artifacts/cache/batch
(``outputs``), bundle- and gate-specific rules (``bundle``), shared typed
checks (``checks``) and just enough shell reading to tell what a command runs
(``shell_words``).

Must not import: ``instance``, ``agent``, ``cli``, click, boto3, jinja2.
"""
