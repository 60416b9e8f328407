"""`python -m training`: the model-building command line."""

from training.cli import main

raise SystemExit(main())
