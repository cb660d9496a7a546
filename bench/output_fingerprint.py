"""Fingerprint of everything aimsq writes for the corpus files: a refactor must not change it.

For every questionnaire in ../shared/corpus (XLSX and DOCX) and a few CSV files
built here, against a fresh starter bank (`aimsq init --demo`): the SHA-256 of
the `aimsq ingest --json` output, of the `aimsq autofill --json` report and of
the filled copy. Run it before and after a change that should change no
output and compare the two listings:

    .venv/bin/python bench/output_fingerprint.py > /tmp/before.txt
    ... change ...
    .venv/bin/python bench/output_fingerprint.py > /tmp/after.txt && diff /tmp/before.txt /tmp/after.txt

The run's temporary folder is taken out of the reports, so equal outputs
give equal lines.
Skips the corpus files when ../shared is absent.
"""
from __future__ import annotations

import hashlib
import os
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
CORPUS = ROOT.parent / "shared" / "corpus"

CSV_FILES = {
    "built-utf8.csv": (
        "ID,Question,Answer,Comments\n"
        "AI-1,Do you keep an inventory of the AI systems you build or use?,,\n"
        "AI-2,Is there a documented AI risk assessment for each model in production?,,\n"
        "SEC-1,Do you encrypt customer data at rest?,,\n"
        "SEC-2,Is multi-factor authentication required for administrative access?,,\n"
        "GEN-1,What is the colour of your logo?,,\n"
    ).encode("utf-8"),
    "built-cp1252.csv": (
        "Réf;Question;Réponse\n"
        "1;Do you review your AI policy at least annually?;\n"
        "2;Are employees trained on the responsible use of AI – including generative AI?;\n"
    ).encode("cp1252"),
}


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()[:16]


def _stable(report: bytes, tmp: Path) -> bytes:
    """The report without the run's temporary folder (it names the files it read and wrote)."""
    return report.replace(str(tmp).encode(), b"<tmp>")


def _inputs(tmp: Path) -> list[Path]:
    files: list[Path] = []
    if CORPUS.is_dir():
        files += sorted((CORPUS / "xlsx").glob("*.xlsx")) + sorted((CORPUS / "docx").glob("*.docx"))
    for name, data in CSV_FILES.items():
        path = tmp / name
        path.write_bytes(data)
        files.append(path)
    return files


def main() -> int:
    from click.testing import CliRunner

    from cli import main as cli

    runner = CliRunner()
    with tempfile.TemporaryDirectory() as t:
        tmp = Path(t)
        db = tmp / "bank.db"
        result = runner.invoke(cli, ["--db", str(db), "init", "--demo"], catch_exceptions=False)
        if result.exit_code != 0:
            print(result.output, file=sys.stderr)
            return 1
        for path in _inputs(tmp):
            ingest = runner.invoke(cli, ["--db", str(db), "ingest", str(path), "--json"], catch_exceptions=False)
            out = tmp / ("filled" + path.suffix)
            if out.exists():
                out.unlink()
            fill = runner.invoke(cli, ["--db", str(db), "autofill", str(path), "-o", str(out), "--json"],
                                 catch_exceptions=False)
            filled = out.read_bytes() if out.exists() else b""
            print(f"{path.name:50} ingest {ingest.exit_code} {_sha(ingest.stdout_bytes)}  "
                  f"autofill {fill.exit_code} {_sha(_stable(fill.stdout_bytes, tmp))}  file {_sha(filled)}", flush=True)
    return 0


if __name__ == "__main__":
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    sys.exit(main())
