"""Entry point of the bundled app: the window with no arguments, else the `hearth` command."""

import sys

if len(sys.argv) == 1:
    from desktop.app import main
else:
    from backend.cli import main

sys.exit(main())
