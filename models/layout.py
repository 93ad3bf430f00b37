"""The file names of a checkpoint folder (``models.checkpoint`` describes the files).

Kept apart from ``models.checkpoint`` so that listing checkpoints imports neither torch nor the engine.
"""
from __future__ import annotations

WEIGHTS_FILE = "weights.safetensors"
CARD_FILE = "model_card.json"
NORMALIZER_FILE = "normalizer.json"
ONNX_FILE = "model.onnx"
"""The export a checkpoint runs on by default when its card holds a passing parity report."""
