"""Perception node: camera images to V-JEPA 2 embeddings (torch or ONNX Runtime)."""
