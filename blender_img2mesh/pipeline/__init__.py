"""The image -> mesh pipeline.  No bpy here, ever: this package is the worker."""
