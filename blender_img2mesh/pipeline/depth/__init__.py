"""Monocular depth: the estimator (ONNX Runtime or PyTorch), its pre-processing, weights,
the ONNX export and cache, and depth conversion.
"""
