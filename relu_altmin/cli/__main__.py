"""``python -m relu_altmin.cli``: the same program as ``relu-altmin``."""

import sys

from . import main

sys.exit(main())
