"""From depth to surface: the camera model, points, the grid and Poisson meshers, the outline."""
