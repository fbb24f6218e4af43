"""What lands in the scene: mesh import, material, texture, placement beside earlier
results, the photo's image.
"""
