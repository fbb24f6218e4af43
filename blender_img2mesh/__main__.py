"""``python -m blender_img2mesh ...``: the command-line tool (see ``pipeline.cli``)."""

import sys

from .pipeline.cli import main

sys.exit(main())
