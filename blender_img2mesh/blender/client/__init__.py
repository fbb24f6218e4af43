"""The add-on's bpy-free side: the worker client, jobs, the interpreter and vendored
packages, the PLY reader, model plans.
"""
