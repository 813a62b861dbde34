"""A Python client of federated averaging, through Flower: the page's head, trained on this client's labelled texts.

It embeds its texts once with the web assets' backbone (tinydetect.web.scorer, no torch), and in each round trains the
global head it is sent exactly as a browser does (tinydetect.web.head, settings.json), then sends the delta, clipped,
noised and quantized as settings.json says (tinydetect.federated.update). After the last round it pulls the global head
from the server's HTTP API, as a browser does.
"""

from __future__ import annotations

import os

os.environ.setdefault("FLWR_TELEMETRY_ENABLED", "0")  # Flower reports usage events over the network unless told not to

import argparse
import json
from pathlib import Path

import numpy as np
from flwr.client import NumPyClient, start_client

from tinydetect.core.errors import UserError
from tinydetect.core.files import write_json
from tinydetect.core.records import LABELS, load_file
from tinydetect.federated.process import get_json
from tinydetect.federated.server import TOKEN_KEY, enrolment_token
from tinydetect.federated.update import privatize, quantize
from tinydetect.web.head import Head, train_head
from tinydetect.web.scorer import SETTINGS_FILE, WebScorer


class HeadClient(NumPyClient):
    """Trains the round's global head on fixed embeddings and returns the quantized delta."""

    def __init__(self, template: Head, embeddings: np.ndarray, labels: np.ndarray, cuts: np.ndarray, settings: dict,
                 token: str, seed: int = 0):
        self.template, self.embeddings, self.labels, self.cuts = template, embeddings, labels, cuts
        self.settings, self.token, self.rng = settings, token, np.random.default_rng(seed)

    def get_parameters(self, config):
        return []  # the server starts from the web assets' head: never asked

    def fit(self, parameters, config):
        start = self.template.with_arrays(parameters)
        trained, losses = train_head(start, self.embeddings, self.labels, self.cuts, **self.settings["train"])
        federated = self.settings["federated"]
        delta = privatize([after - before for after, before in zip(trained.arrays(), start.arrays(), strict=True)],
                          federated["clip_norm"], federated["noise_multiplier"], self.rng)
        # the server takes a result only with the operator's enrolment token (tinydetect.federated.server)
        return quantize(delta, federated["delta_bits"]), len(self.labels), {"loss": losses[-1], TOKEN_KEY: self.token}


def labelled_examples(scorer: WebScorer, data: str | Path) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Embeddings, label indices and each text's cut (its language's threshold) of the file's labelled records."""
    records = [record for record in load_file(data) if record.label is not None]
    if not records:
        raise UserError(f"{data}: no labelled records (each line needs a label, HUMAN or AI)")
    texts = [record.text for record in records]
    labels = np.array([LABELS.index(record.label) for record in records])
    return scorer.embeddings(texts), labels, scorer.threshold.for_texts(texts)


def run(args: argparse.Namespace) -> None:
    settings = json.loads((Path(args.model) / SETTINGS_FILE).read_text())
    scorer = WebScorer(args.model, threads=1)
    client = HeadClient(scorer.head, *labelled_examples(scorer, args.data), settings, enrolment_token(args.token_file),
                        args.seed)
    start_client(server_address=args.server, client=client.to_client(), insecure=True, max_wait_time=args.timeout)
    if args.http:
        head = get_json(f"{args.http.rstrip('/')}/api/head")
        if args.output:
            write_json(args.output, head)
        print(f"global head of round {head['round']} pulled from {args.http}", flush=True)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("data", help="this client's labelled texts (JSONL: text, label)")
    parser.add_argument("--server", default="127.0.0.1:8091", help="the server's Flower address (default: %(default)s)")
    parser.add_argument("--http", help="the server's HTTP address, to pull the global head after the rounds")
    parser.add_argument("--model", default="web/public/model", help="the web assets (default: %(default)s)")
    parser.add_argument("--output", help="where to write the pulled global head (JSON)")
    parser.add_argument("--timeout", type=float, default=600.0, help="seconds to keep trying to reach the server")
    parser.add_argument("--seed", type=int, default=0, help="seed of the differential-privacy noise")
    parser.add_argument("--token-file", required=True, help="file holding the server's enrolment secret")
