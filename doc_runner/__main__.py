"""``python -m doc_runner``: the command line (see :mod:`doc_runner.cli`)."""

from doc_runner.cli import main

raise SystemExit(main())
