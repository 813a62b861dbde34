"""triton: the served ONNX variant as a model repository for a stock Triton server -> models/triton/<variant>/.

`<variant>/1/model.onnx` + `config.pbtxt` (ONNX Runtime backend, dynamic batching, CPU instances, from params' serve
section), the tokenizer assets and detector.json beside them (docs/serving.md). The config is read back through
Triton's model-config protobuf and must name the graph's tensors; the copied model must score val as its source.
Named triton_repository.py, not triton.py: a script beside the `triton` package (torch imports it) would shadow it.
"""

from pathlib import Path

import numpy as np

from tinydetect.core.config import load_params
from tinydetect.core.errors import UserError, exit_on_user_error
from tinydetect.core.records import load_file
from tinydetect.runtime.onnx_scorer import OnnxScorer, onnx_session
from tinydetect.serving.repository import export_onnx_repository, read_config, served_variant

REPOSITORY = Path("models/triton")


def check_config_names_the_graph(config_path: Path, onnx_path: Path) -> None:
    config, session = read_config(config_path), onnx_session(onnx_path)
    for kind, declared, graph in (("input", config.input, session.get_inputs()),
                                  ("output", config.output, session.get_outputs())):
        if [tensor.name for tensor in declared] != [value.name for value in graph]:
            raise UserError(f"{config_path}: {kind}s {[t.name for t in declared]} are not the graph's "
                            f"{[v.name for v in graph]}")


def main() -> None:
    config = load_params("serve")["serve"]
    variant = served_variant(config)
    config_path = export_onnx_repository(variant, REPOSITORY, config)
    check_config_names_the_graph(config_path, config_path.parent / "1" / "model.onnx")
    val_texts = [record.text for record in load_file("data/split/val.jsonl")]
    exported = OnnxScorer(config_path.parent / "1" / "model.onnx").logits(val_texts)
    if not np.array_equal(exported, OnnxScorer(variant.path).logits(val_texts)):
        raise UserError(f"{config_path.parent}: the exported model does not score val as {variant.path} does")
    print(f"{config_path.parent}: {variant.name}, {read_config(config_path).max_batch_size} texts per batch at most")


if __name__ == "__main__":
    exit_on_user_error(main)
