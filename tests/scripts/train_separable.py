"""Train the separable signal of test_training.py and write what this process ended with to <folder>/rank<R>.json.

Run by test_scale.py as `python -m tinydetect.core.launch --processes N tests/scripts/train_separable.py <folder>`:
under torchrun every process writes its own file, so the test can compare the replicas' weights.
"""

import hashlib
import json
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # the repo root: `tests` as a package

from sklearn.metrics import roc_auc_score
from tests.test_training import TINY_MODEL, separable_task

from tinydetect.core.launch import world_size
from tinydetect.modeling.training import train


def weights_digest(model) -> str:
    digest = hashlib.sha256()
    for name, tensor in sorted(model.state_dict().items()):
        digest.update(name.encode() + tensor.detach().cpu().contiguous().numpy().tobytes())
    return digest.hexdigest()


def main(folder: Path) -> None:
    data, config = separable_task()
    result = train(TINY_MODEL, config, data, seed=0)
    p_ai = result.detector.probability_ai([record.text for record in data.val])
    (folder / f"rank{os.environ.get('RANK', '0')}.json").write_text(json.dumps({
        "world_size": world_size(),
        "val_roc_auc": roc_auc_score([record.label_int for record in data.val], p_ai),
        "epochs_run": result.epochs_run,
        "weights": weights_digest(result.detector.model),
    }))


if __name__ == "__main__":
    main(Path(sys.argv[1]))
