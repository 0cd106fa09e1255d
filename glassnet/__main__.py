"""`python -m glassnet …` runs the `glassnet` command."""

import sys

from glassnet.cli import main

sys.exit(main())
