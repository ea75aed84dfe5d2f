"""``python -m lrpcore``: the ``lrp`` command without an installed script (a fresh checkout)."""

from .cli.main import main

raise SystemExit(main())
