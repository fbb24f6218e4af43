"""Run pip with environment markers evaluated for another platform.

``pip download --platform ... --python-version ...`` picks wheels for the target, but
evaluates the markers of requirements (``; sys_platform == "linux"``) for the machine it
runs on: building a Windows package on Linux would then ask for torch's Linux-only CUDA
wheels.  This runner swaps pip's marker environment for the target's, then runs pip.

    python pip_target.py '{"sys_platform": "win32", ...}' download ...
"""

import json
import sys


def main():
    target = json.loads(sys.argv[1])
    try:
        from pip._vendor.packaging import markers
        from pip._internal.cli.main import main as pip_main
    except ImportError as exc:  # pragma: no cover - a pip without these internals
        sys.exit(f"error: this pip cannot evaluate markers for another platform ({exc}): "
                 "use pip >= 22")
    env = markers.default_environment()
    env.update(target)
    markers.default_environment = lambda: dict(env)
    sys.exit(pip_main(sys.argv[2:]))


if __name__ == "__main__":
    main()
