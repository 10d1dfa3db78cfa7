"""Positioned YAML: every value with its file, line, column and YAML path.

Owns: the node type (``node``), turning PyYAML's composed nodes into nodes
(``builder``, which refuses alias bombs, alias cycles and too deep nesting),
loading text and files (``loader``), the problem/report types (``problems``),
the one declarative checker every reader uses (``checks``) and the one overlay
merge (``merge``).

Must not import: anything of hdhooks but ``errors`` and ``fsutil`` (it is the
bottom layer under appspec, config, lint and build); ``node`` must not import
``builder``.
"""
