"""The detector in other runtimes' formats: a trace-friendly wrapper, ONNX (fp32, INT8, INT4) and Core ML packages."""
