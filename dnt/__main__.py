"""``python -m dnt``: see :mod:`dnt.cli`."""

from dnt.cli import main

raise SystemExit(main())
