"""What the user sees: the sidebar panels and their texts, pickers, progress, scene
properties, add-on preferences.
"""
