"""Background removal: the object's mask from u2netp on ONNX Runtime, rembg's other models,
or a given mask.
"""
