"""Where the picture comes from: a photo file (image I/O) or a text prompt (text to image)."""
