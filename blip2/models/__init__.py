"""BLIP-2 architecture, one family per module: image encoders, Q-Former, stage-1 and stage-2 models."""
