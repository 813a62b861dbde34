"""extract: SuperNet + models/search/best.json -> models/encoders/searched/ (the chosen sub-network, a plain save_pretrained
folder that `DetectorModel.from_pretrained` loads; `train` trains it further when `model.source: searched`)."""

from tinydetect.core.errors import exit_on_user_error
from tinydetect.core.files import read_json
from tinydetect.nas.space import Architecture
from tinydetect.nas.supernet import extract, load_supernet


def main() -> None:
    supernet = load_supernet("models/supernet")
    arch = Architecture.from_dict(read_json("models/search/best.json"))
    extract(supernet, arch).save_pretrained("models/encoders/searched")


if __name__ == "__main__":
    exit_on_user_error(main)
