"""`python -m backend` is the `hearth` command."""

import sys

from backend.cli import main

sys.exit(main())
