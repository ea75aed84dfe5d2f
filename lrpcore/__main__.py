"""``python -m lrpcore``: the ``lrp`` command without an installed script (a fresh checkout)."""

from .cli.main import main

if __name__ == "__main__":  # importing it (e.g. walking the package) runs nothing
    raise SystemExit(main())
