"""The command line: the only package that imports click.

Owns: the entry point (``main``: ``--version`` with nothing imported, and the
table of command groups, each loaded only when used), the error boundary and
the click-free path the hook shims take (``boundary``), the click root
(``_root``), and one module per command group.

Must not be imported by anything else in hdhooks: library code raises
``HdhooksError`` and never prints for a command.
"""
