"""The fp16 and int8 variants of an exported depth network, made the way the Hub's
ready ONNX repositories (onnx-community/..., Xenova/...: transformers.js's conversion
scripts) make them: fp16 with onnxruntime's float16 converter keeping float32 inputs and
outputs, int8 with ``onnxruntime.quantization.quantize_dynamic`` (int8 weights, dynamic
uint8 activations) on the matrix products -- ``Conv`` stays float, as onnxruntime's CPU
provider has no ``ConvInteger`` for int8 weights.  Needs the ``onnx`` package (tests and
benchmarks only; the add-on's runtime never makes variants)."""

import os

#: the variants and their file names in a repository's ``onnx/`` folder
FILES = {"fp32": "model.onnx", "fp16": "model_fp16.onnx", "int8": "model_int8.onnx"}


def to_fp16(src, dst):
    """Write the float16 form of the network ``src`` to ``dst`` (inputs and outputs stay
    float32, as in the onnx-community repositories)."""
    import onnx
    from onnxruntime.transformers.float16 import DEFAULT_OP_BLOCK_LIST, convert_float_to_float16

    # Pow stays float32: DINOv2 computes its position grid's side as positions ** 0.5
    # and casts it to an integer; in float16 sqrt(1369) comes out below 37, so 36
    model = convert_float_to_float16(onnx.load(src), keep_io_types=True,
                                     op_block_list=[*DEFAULT_OP_BLOCK_LIST, "Pow"])
    onnx.save(model, dst)
    return dst


def to_int8(src, dst):
    """Write the dynamically quantised (int8 weights) form of ``src`` to ``dst``."""
    import logging

    from onnxruntime.quantization import QuantType, quantize_dynamic

    logging.getLogger().setLevel(logging.ERROR)  # its advice to pre-process first

    quantize_dynamic(src, dst, weight_type=QuantType.QInt8, per_channel=False,
                     reduce_range=False, op_types_to_quantize=["MatMul", "Gemm"],
                     extra_options={"MatMulConstBOnly": True})
    return dst


def write_variants(fp32_path, folder):
    """fp16 and int8 beside the fp32 network ``fp32_path`` in ``folder``; returns
    ``{variant: path}`` for all three."""
    out = {"fp32": fp32_path}
    out["fp16"] = to_fp16(fp32_path, os.path.join(folder, FILES["fp16"]))
    out["int8"] = to_int8(fp32_path, os.path.join(folder, FILES["int8"]))
    return out
