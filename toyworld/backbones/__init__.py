"""The frozen toy backbones (ViT, OPT, T5 and tokenizers), trained once before BLIP-2's own stages."""
