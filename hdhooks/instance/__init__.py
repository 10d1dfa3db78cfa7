"""What the lifecycle hooks do on the instance (``hdhooks hook``, rollback, restart).

Owns: the hook run and its outcome line (``hook``); every plan, events,
rollback and restart alike (``plan``), as frozen steps carrying what they act
on (``steps``); what steps share while they run (``runtime``) and where a hook
runs (``context``); rollback and restart (``rollback``); releases and the
``current`` link (``releases``); config rendering and its sandbox (``render``,
``sandbox``); the local ``health`` check, ``ports`` and ``preflight``; and
service control (``service/``).

Must not import: ``agent``, ``lint``, ``cli``, click; boto3 only through
``aws``. Nothing is imported here, so a hook pays only for what it uses.
"""
