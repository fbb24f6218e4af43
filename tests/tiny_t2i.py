"""A tiny random-weight Stable Diffusion text-to-image pipeline (64 x 64 pictures), saved
like a real one.

Used by tests/conftest.py (the ``tiny_t2i`` fixture) and, run as a script with the
pipeline's Python, by the Blender tests (which cannot import torch themselves):

    .venv/bin/python tests/tiny_t2i.py FOLDER

No downloads: the UNet, VAE and CLIP text encoder are built from small configs with random
weights, the tokenizer from a hand-made byte-pair vocabulary written here.
"""

import json
import os
import sys
import tempfile

#: whole words the tokenizer knows (anything else is spelled out letter by letter)
WORDS = ("a", "an", "the", "of", "on", "in", "and", "with", "red", "blue", "ceramic", "mug",
         "cup", "teapot", "chair", "single", "object", "centered", "full", "view",
         "isolated", "plain", "white", "background", "studio", "lighting", "light",
         "product", "photo", "sharp", "focus")


def _bpe_vocab(words):
    """A CLIP-style BPE vocabulary and merges: letters, then every word merged left to
    right (``m u g</w>`` -> ``mu g</w>`` -> ``mug</w>``)."""
    letters = "abcdefghijklmnopqrstuvwxyz0123456789,.!?'-"
    tokens = ["<|startoftext|>", "<|endoftext|>", "!"]
    tokens += [c for c in letters if c not in tokens] + [c + "</w>" for c in letters]
    merges = []
    for word in words:
        parts = list(word[:-1]) + [word[-1] + "</w>"]
        while len(parts) > 1:
            pair = (parts[0], parts[1])
            merged = parts[0] + parts[1]
            if " ".join(pair) not in merges:
                merges.append(" ".join(pair))
            if merged not in tokens:
                tokens.append(merged)
            parts = [merged] + parts[2:]
    return {t: i for i, t in enumerate(tokens)}, merges


def build(folder, seed=0):
    """Write the pipeline to ``folder`` (save_pretrained, safetensors) and return it."""
    import torch
    from diffusers import (AutoencoderKL, EulerDiscreteScheduler, StableDiffusionPipeline,
                           UNet2DConditionModel)
    from transformers import CLIPTextConfig, CLIPTextModel, CLIPTokenizer

    torch.manual_seed(seed)
    vocab, merges = _bpe_vocab(WORDS)
    with tempfile.TemporaryDirectory() as tok_dir:
        with open(os.path.join(tok_dir, "vocab.json"), "w") as f:
            json.dump(vocab, f)
        with open(os.path.join(tok_dir, "merges.txt"), "w") as f:
            f.write("#version: 0.2\n" + "\n".join(merges) + "\n")
        tokenizer = CLIPTokenizer(os.path.join(tok_dir, "vocab.json"),
                                  os.path.join(tok_dir, "merges.txt"), model_max_length=77)
    text_encoder = CLIPTextModel(CLIPTextConfig(
        vocab_size=len(vocab), hidden_size=32, intermediate_size=37, num_attention_heads=4,
        num_hidden_layers=2, max_position_embeddings=77, bos_token_id=0, eos_token_id=1,
        pad_token_id=1, projection_dim=32))
    unet = UNet2DConditionModel(
        block_out_channels=(32, 64), layers_per_block=1, sample_size=32, in_channels=4,
        out_channels=4, down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"),
        up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"), cross_attention_dim=32,
        attention_head_dim=8)
    vae = AutoencoderKL(
        block_out_channels=(32, 64), in_channels=3, out_channels=3, latent_channels=4,
        down_block_types=("DownEncoderBlock2D",) * 2, up_block_types=("UpDecoderBlock2D",) * 2,
        sample_size=64)
    # sd-turbo's scheduler: Euler with trailing timesteps (few-step sampling)
    scheduler = EulerDiscreteScheduler(beta_start=0.00085, beta_end=0.012,
                                       beta_schedule="scaled_linear",
                                       timestep_spacing="trailing", steps_offset=1)
    pipe = StableDiffusionPipeline(vae=vae, text_encoder=text_encoder, tokenizer=tokenizer,
                                   unet=unet, scheduler=scheduler, safety_checker=None,
                                   feature_extractor=None, requires_safety_checker=False)
    pipe.save_pretrained(folder, safe_serialization=True)
    return pipe


if __name__ == "__main__":
    build(sys.argv[1])
    print(sys.argv[1])
