"""What the hooks do on the instance.

Service control (``service``: the interface and :func:`make_service`;
``systemd`` and ``procsvc``: the backends), ``ports``, the local ``health``
check and ``preflight`` checks; releases and config rendering live beside
them. Nothing is imported here, so a hook pays only for the modules it uses.
"""
