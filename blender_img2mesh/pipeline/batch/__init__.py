"""Many photos, one mesh each: the plan of names, the local driver with its stage overlap,
the display, and the Ray driver.
"""
