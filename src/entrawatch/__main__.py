"""``python -m entrawatch`` runs the CLI."""

import sys

from entrawatch.cli import main

sys.exit(main())
