"""The build side: CodeBuild buildspecs and the SonarQube gate.

Owns: component build settings and the manifest (``settings``), rendering
buildspecs from the package's templates (``render``), validating them
(``buildspec/``) and the quality gate (``sonar/``).

Must not import: ``instance``, ``agent``, ``cli``, click, boto3. jinja2 and
requests are imported only by the functions that need them, so
``hdhooks buildspec validate`` starts fast.
"""
