"""Helpers of the top-level ``build.py``: the add-on's zip packages (see docs/install.md).

* ``manifest`` -- version checks and the ``blender_manifest.toml`` written into a zip
* ``platforms`` -- the target platforms: wheel tags, environment markers, torch build
* ``wheels`` -- the runtime dependencies for a platform, fetched with ``pip download``
* ``package`` -- writing the zip, Blender's own validator
"""


class BuildError(Exception):
    """A build that cannot go on: the message is one line saying what to do."""
