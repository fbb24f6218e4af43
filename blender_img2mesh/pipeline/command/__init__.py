"""The command line's and the worker's plumbing: arguments and their checks, console
output, signals, the parent watch, preload and model fetches.
"""
