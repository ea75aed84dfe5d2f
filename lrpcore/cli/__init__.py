"""The ``lrp`` command line."""
