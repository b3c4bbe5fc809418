"""``python -m liif_core`` is the ``liif-upscale`` command."""

import sys

from liif_core.cli import main

sys.exit(main())
