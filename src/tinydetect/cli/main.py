"""The `tinydetect` command: score texts with a trained detector, or write the demo data."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterator

from tinydetect.core.errors import UserError
from tinydetect.core.files import DataError, parse_jsonl_lines, write_jsonl

PREDICT_HELP = """\
Score texts with a trained detector and write one JSON line per text:
  {"id": ..., "p_ai": probability the text is AI-written, "label": "AI" or "HUMAN"}
The label uses the threshold chosen on the validation split (detector.json beside the model).

--model takes any variant the pipeline makes: a PyTorch folder (models/detector,
models/pruned, models/quantized/pruned_int8) or an ONNX file (models/onnx/pruned/model_int8.onnx).

Input: a JSONL file whose objects have a "text" field (and optionally "id"), or a plain
text file with one text per line; "-" reads standard input.

Example:
  echo "Some text to check." | tinydetect predict --model models/detector -
  tinydetect predict --model models/onnx/detector/model_int8.onnx texts.jsonl
"""


def read_texts(source: str) -> list[tuple[str, str]]:
    """`(id, text)` pairs from JSONL (each line an object with "text") or plain lines."""
    handle = sys.stdin if source == "-" else open(source, encoding="utf-8")  # noqa: SIM115
    name = "<stdin>" if source == "-" else source
    with handle:
        lines = handle.read().splitlines()
    return list(_parse_lines(lines, name))


def _parse_lines(lines: list[str], name: str) -> Iterator[tuple[str, str]]:
    if not any(line.lstrip().startswith("{") for line in lines if line.strip()):
        yield from ((str(number), line) for number, line in enumerate(lines, start=1) if line.strip())
        return
    for line_number, row in parse_jsonl_lines(lines, name):
        if not isinstance(row.get("text"), str):
            raise DataError(f"{name}:{line_number}: text: missing or not a string")
        yield str(row.get("id", line_number)), row["text"]


def predict(args: argparse.Namespace) -> None:
    from tinydetect.runtime.scorers import load_scorer  # model libraries load only for commands that need them

    detector = load_scorer(args.model)
    pairs = read_texts(args.input)
    p_ai = detector.probability_ai([text for _, text in pairs])
    rows = [
        {"id": text_id, "p_ai": round(float(p), 6), "label": "AI" if p > detector.threshold else "HUMAN"}
        for (text_id, _), p in zip(pairs, p_ai, strict=True)
    ]
    if args.output == "-":
        for row in rows:
            print(json.dumps(row, ensure_ascii=False))
    else:
        write_jsonl(args.output, rows)


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


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="tinydetect", description="A tiny on-device detector of AI-written text.")
    commands = parser.add_subparsers(dest="command", required=True)

    predict_parser = commands.add_parser(
        "predict", help="score texts with a trained detector", description=PREDICT_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    predict_parser.add_argument("input", help='JSONL or plain-text file, or "-" for standard input')
    predict_parser.add_argument("--model", default="models/detector", help="detector folder or .onnx file (default: %(default)s)")
    predict_parser.add_argument("--output", default="-", help='where to write JSONL (default: "-", standard output)')
    predict_parser.set_defaults(run=predict)

    demo_parser = commands.add_parser(
        "demo-data", help="write the bundled demo texts (English and Korean, human-written)",
        description="Rebuild the demo data/real/ file from text shipped in installed packages (see README, 'Demo data').",
    )
    demo_parser.add_argument("output", help="JSONL file to write, e.g. data/real/demo.jsonl")
    demo_parser.add_argument("--max-english", type=int, default=300, help="at most this many English texts")
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
    return parser


def main(argv: list[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    try:
        args.run(args)
    except (UserError, FileNotFoundError) as error:
        print(f"error: {error}", file=sys.stderr)
        sys.exit(2)


if __name__ == "__main__":
    main()
