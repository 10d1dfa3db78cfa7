"""Service control on the instance: one interface, two backends.

Owns: the service spec and interface (``base``), the systemd backend
(``systemd``: unit files, ``systemctl`` commands and the parsing of their
output) and the process backend (``process``: a detached process and a
pidfile, for hosts without systemd).

Must not import: ``base`` must not import its backends (the factory loads
them by name); nothing here imports ``instance.hook``, ``cli``, click or boto3.
"""
