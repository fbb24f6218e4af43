"""``import open3d`` without its plotly/Dash notebook viewer.

open3d's ``__init__`` imports ``open3d.visualization``, which imports ``plotly`` and ``dash``
for ``draw_plotly`` -- eagerly, although nothing here draws with them.  They cost about
1.5 s of every fresh worker's start (measured: 1.6 s of open3d's 3.0 s import) and, with
their own dependencies (Flask, IPython widgets, ...), about 20 MB of the add-on's zip.
:func:`load` imports open3d with placeholder modules standing in for those two while it
runs, then takes them out of ``sys.modules`` again (an ``import plotly`` later gets the real
one, when installed).  Calling a placeholder (``open3d.visualization.draw_plotly``) raises
ImportError saying what is missing.
"""

import sys
import types

#: the modules open3d.visualization.draw_plotly imports (and their parents)
VIEWER_MODULES = ("plotly", "plotly.graph_objects", "dash")


class _Missing:
    def __init__(self, name):
        self._name = name

    def __getattr__(self, attr):
        return _Missing(f"{self._name}.{attr}")

    def __call__(self, *args, **kwargs):
        raise ImportError(f"{self._name} is not available: the worker imports open3d "
                          "without its plotly/Dash viewer (pip install plotly dash to draw)")


class _Placeholder(types.ModuleType):
    def __getattr__(self, attr):
        if attr.startswith("__"):
            raise AttributeError(attr)
        return _Missing(f"{self.__name__}.{attr}")


def load():
    """The ``open3d`` module, verbosity set to errors only.  Placeholders stand in for
    :data:`VIEWER_MODULES` during the import unless they are imported already."""
    if "open3d" not in sys.modules:
        added = [name for name in VIEWER_MODULES if name not in sys.modules]
        for name in added:
            sys.modules[name] = _Placeholder(name)
        try:
            import open3d  # noqa: F401
        finally:
            for name in added:
                if isinstance(sys.modules.get(name), _Placeholder):
                    del sys.modules[name]
    o3d = sys.modules["open3d"]
    o3d.utility.set_verbosity_level(o3d.utility.VerbosityLevel.Error)
    return o3d
