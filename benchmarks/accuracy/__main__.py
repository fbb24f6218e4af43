"""``python -m benchmarks.accuracy``: runs :mod:`benchmarks.accuracy.run` (see its docstring)."""
import sys

from .run import main

sys.argv[0] = "python -m benchmarks.accuracy"  # argparse's usage line, not "__main__.py"
sys.exit(main())
