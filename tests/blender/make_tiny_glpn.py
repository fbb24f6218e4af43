"""Save a tiny random-weight GLPN depth model to the folder named on the command line.
Run by the pipeline's Python (torch and transformers stay out of Blender's process):

    .venv/bin/python tests/blender/make_tiny_glpn.py FOLDER
"""

import sys

import torch
from transformers import GLPNConfig, GLPNForDepthEstimation, GLPNImageProcessor

torch.manual_seed(0)
GLPNForDepthEstimation(GLPNConfig(
    num_encoder_blocks=4, depths=[1, 1, 1, 1], sr_ratios=[8, 4, 2, 1],
    hidden_sizes=[8, 16, 24, 32], num_attention_heads=[1, 1, 1, 1],
    patch_sizes=[7, 3, 3, 3], strides=[4, 2, 2, 2], decoder_hidden_size=16,
    mlp_ratios=[2, 2, 2, 2])).save_pretrained(sys.argv[1])
GLPNImageProcessor().save_pretrained(sys.argv[1])
