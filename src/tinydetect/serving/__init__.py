"""Serving: the detector behind Triton Inference Server (`tinydetect serve`), and a model repository for a stock one.

`server` starts tritonserver through PyTriton with `triton_model`, a Python-backend model that tokenizes, batches and
scores texts; `repository` writes and validates `config.pbtxt` files through Triton's own model-config protobuf;
`environment` finds the serving venv (PyTriton's backend stub needs NumPy 1, the project NumPy 2).
"""
