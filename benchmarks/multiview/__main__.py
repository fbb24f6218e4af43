"""``python -m benchmarks.multiview``: runs :mod:`benchmarks.multiview.run` (see its docstring)."""
import sys

from .run import main

sys.argv[0] = "python -m benchmarks.multiview"  # argparse's usage line, not "__main__.py"
sys.exit(main())
