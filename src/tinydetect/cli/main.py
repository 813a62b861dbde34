"""The `tinydetect` command: score texts with a trained detector, or write the demo data."""

from __future__ import annotations

import argparse
import sys

from tinydetect.core.errors import UserError
from tinydetect.core.files import MAX_LINE_BYTES, write_jsonl
from tinydetect.runtime.sentences import METHODS as SENTENCE_METHODS

PREDICT_HELP = """\
Score texts with a trained detector and write one JSON line per text:
  {"id": ..., "p_ai": probability the text is AI-written, "label": "AI", "HUMAN" or "UNSURE",
   "reason": why UNSURE (else null), "obfuscated": true/false, "invisible_characters": n,
   "mixed_script_words": n}
The label uses the cuts (thresholds on P(AI)) chosen on the validation split (detector.json beside
the model, with the rates each promises, measured on val): AI above the cut that labels eval.target_fpr (1%) of val's
human texts AI; HUMAN at or below the cut under which eval.target_fnr (5%) of val's AI texts fall;
UNSURE between them ("between the cuts"), and for a text the cuts say nothing about: a script or a
language val had no human texts of, or fewer than eval.min_words words. Each language with enough
val texts has cuts of its own (the language is guessed from the script).
The tokenizer removes invisible characters (zero-width spaces, joiners, bidi controls) and maps
look-alike letters of other scripts (a Cyrillic "а" in "аpple") before scoring; "obfuscated" says a
text needed that, a strong sign it was edited to evade detection (emoji joiners do not count).

--model takes any variant the pipeline makes: a PyTorch folder (models/detector,
models/pruned, models/quantized/pruned_int8), an ONNX file (models/onnx/pruned/model_int8.onnx)
or a Core ML package (models/coreml/pruned/Detector_int4.mlpackage; off macOS it is scored
through the PyTorch model it was converted from, found beside it or given with --source).

Input: a JSONL file whose objects have a "text" field (and optionally "id"), or a plain
text file with one text per line; "-" reads standard input. --format auto (the default)
reads *.jsonl and *.ndjson as JSON Lines, *.txt as text, and anything else (stdin too) as
JSON Lines when every non-blank line is a JSON object; stderr says which it chose.

Results are written as they are scored (a progress bar on stderr for large inputs), so an
interrupted run keeps what it did; an output that cannot be written fails before any scoring.

Example:
  echo "Some text to check." | tinydetect predict --model models/detector -
  tinydetect predict --model models/onnx/detector/model_int8.onnx texts.jsonl
  tinydetect predict --sentences post.txt     # which sentences read as AI
"""


def predict(args: argparse.Namespace) -> None:
    from tinydetect.cli.predict import predict as run_predict

    run_predict(args.input, args.model, args.output, args.format, args.source, args.max_line_bytes,
                args.sentence_method if args.sentences else None)


def demo_data(args: argparse.Namespace) -> None:
    from tinydetect.data.demo import build_demo_records

    records = build_demo_records(max_english=args.max_english, max_korean=args.max_korean)
    write_jsonl(args.output, records)
    print(f"wrote {len(records)} human texts to {args.output}", file=sys.stderr)


def report(args: argparse.Namespace) -> None:
    from tinydetect.core.files import write_text
    from tinydetect.evaluation.report import build_report

    try:
        text = build_report(args.base, plots_dir=args.plots)
    except RuntimeError as error:
        raise UserError(str(error)) from None
    write_text(args.output, text)
    print(f"wrote {args.output} (plots in {args.plots}/index.html)", file=sys.stderr)


def serve(argv: list[str]) -> None:
    """Run the server here if this Python can (the serving venv), else re-run it in the serving venv."""
    from tinydetect.serving.environment import can_serve_here, exec_in_serving_env

    if can_serve_here():
        from tinydetect.serving.server import main as serve_main

        serve_main(argv)
    else:
        exec_in_serving_env("tinydetect.serving.server", argv)


def federated(argv: list[str]) -> None:
    """Flower lives in the serving venv (its pins clash with the project's): run there unless this Python has it."""
    import importlib.util

    from tinydetect.serving.environment import exec_in_serving_env

    if importlib.util.find_spec("flwr") is not None:
        from tinydetect.federated.__main__ import main as federated_main

        federated_main(argv)
    else:
        exec_in_serving_env("tinydetect.federated", argv)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="tinydetect", description="A tiny on-device detector of AI-written text.")
    commands = parser.add_subparsers(dest="command", required=True)

    predict_parser = commands.add_parser(
        "predict", help="score texts with a trained detector", description=PREDICT_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    predict_parser.add_argument("input", help='JSONL or plain-text file, or "-" for standard input')
    predict_parser.add_argument("--model", default="models/detector",
                                help="detector folder, .onnx file or .mlpackage (default: %(default)s)")
    predict_parser.add_argument("--output", default="-", help='where to write JSONL (default: "-", standard output)')
    predict_parser.add_argument("--format", choices=("auto", "jsonl", "text"), default="auto",
                                help="how to read the input (default: %(default)s, see above)")
    predict_parser.add_argument("--source", help="for a Core ML package: the PyTorch folder it was converted from "
                                                 "(default: models/<name of the package's folder>)")
    predict_parser.add_argument("--max-line-bytes", type=int, default=MAX_LINE_BYTES, metavar="N",
                                help="refuse a line longer than this, naming it (default: %(default)s); of any text "
                                     "only the first 32,768 characters are scored, more than any model reads")
    predict_parser.add_argument("--sentences", action="store_true",
                                help="add each sentence's span (start, end in code points) and score (docs/sentences.md)")
    predict_parser.add_argument("--sentence-method", choices=SENTENCE_METHODS, default=SENTENCE_METHODS[0],
                                help="with --sentences: window (P(AI) of the sentence read with its neighbours; the "
                                     "default), alone, or leave_out (how much the text's P(AI) drops without it)")
    predict_parser.set_defaults(run=predict)

    demo_parser = commands.add_parser(
        "demo-data", help="write the bundled demo texts (English and Korean, human-written)",
        description="Rebuild the demo data/real/ file from text shipped in installed packages (see docs/data.md).",
    )
    demo_parser.add_argument("output", help="JSONL file to write, e.g. data/real/demo.jsonl")
    demo_parser.add_argument("--max-english", type=int, default=240, help="at most this many English texts")
    demo_parser.add_argument("--max-korean", type=int, default=200, help="at most this many Korean texts")
    demo_parser.set_defaults(run=demo_data)

    report_parser = commands.add_parser(
        "report", help="write report.md: params, metrics and plots that moved against a base revision",
        description="Compare the workspace with a git revision through `dvc params/metrics/plots diff` "
        "and write a Markdown report (what CI posts on a pull request). Run `dvc repro` first.",
    )
    report_parser.add_argument("--base", default="main", help="git revision to compare with (default: %(default)s)")
    report_parser.add_argument("--output", default="report.md", help="Markdown file (default: %(default)s)")
    report_parser.add_argument("--plots", default="report_plots", help="folder for `dvc plots diff` (default: %(default)s)")
    report_parser.set_defaults(run=report)

    # listed for --help; its own flags are parsed by tinydetect.serving.server (`tinydetect serve --help`)
    commands.add_parser("serve", help="serve the detector behind Triton Inference Server (HTTP, gRPC, metrics), "
                                      "with dynamic batching; see `tinydetect serve --help`", add_help=False)
    commands.add_parser("federated", help="federated averaging of the web page's head on Flower: the server (rounds, "
                                          "the page, the browsers' API) and Python clients; see "
                                          "`tinydetect federated --help`", add_help=False)
    return parser


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    try:
        if argv[:1] == ["serve"]:
            serve(argv[1:])
            return
        if argv[:1] == ["federated"]:
            federated(argv[1:])
            return
        args = build_parser().parse_args(argv)
        args.run(args)
    except UserError as error:
        print(f"error: {error}", file=sys.stderr)
        sys.exit(error.exit_code)
    except KeyboardInterrupt:
        print("interrupted: what was already written stays", file=sys.stderr)
        sys.exit(130)


if __name__ == "__main__":
    main()
