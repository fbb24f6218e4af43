"""Blender operators: Generate, Batch, downloads, the dependency check, photo drop, the
warm worker.
"""
