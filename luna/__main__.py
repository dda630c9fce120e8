"""``python -m luna``: the same as the ``luna`` script."""

import sys

from luna.cli import main

sys.exit(main())
