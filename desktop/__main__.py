"""`python -m desktop` opens the Hearth window."""

import sys

from desktop.app import main

sys.exit(main())
