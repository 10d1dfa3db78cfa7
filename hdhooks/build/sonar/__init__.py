"""The SonarQube quality gate that can stop a CodeBuild build.

Owns: what the scanner left behind and what the gate means (``gate``), HTTP to
SonarQube's Web API with auth, redirects and TLS (``client``), and how the
result is shown and handed on (``table``: text, JSON, the env file).

Must not import: ``instance``, ``agent``, ``cli``, click, boto3.
"""
