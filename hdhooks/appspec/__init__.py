"""The AppSpec file, read and checked the way the CodeDeploy agent (Linux) reads it.

Owns: the model (``model``: what a valid appspec means), reading and
validating (``read``), the ``hooks`` section (``hooks``), checks that need the
bundle (``bundle``), the ``permissions`` rules (``permissions``) and the Ruby
YAML (Psych) rules the agent applies (``psych``).

Must not import: ``agent``, ``instance``, ``config``, ``lint``, ``cli``, click,
boto3. It is read by the local agent, lint and the hooks alike.
"""
