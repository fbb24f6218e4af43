"""``python -m benchmarks.speed``: runs :mod:`benchmarks.speed.run` (see its docstring)."""
import sys

from .run import main

sys.argv[0] = "python -m benchmarks.speed"  # argparse's usage line, not "__main__.py"
sys.exit(main())
