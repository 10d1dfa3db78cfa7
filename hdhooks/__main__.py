"""``python -m hdhooks`` runs the same entry point as the console script."""

from hdhooks.cli.main import main

raise SystemExit(main())
