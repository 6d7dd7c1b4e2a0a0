"""``python -m engine.cli ...`` runs ``scribe``."""

import sys

from engine.cli.main import main

sys.exit(main())
