"""Writing the result: mesh files (.ply/.obj/.glb), the texture, the sidecar, atomic result
files, the preview.
"""
