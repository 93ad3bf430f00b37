"""Torch networks, training, checkpoints and ONNX export (built on `engine`)."""
