"""answer_bank.coverage: the framework catalogue, coverage states, the SVG chart, `aimsq coverage`."""
from __future__ import annotations

import json
import xml.etree.ElementTree as ET

import pytest
from click.testing import CliRunner

from answer_bank.model import BankEntry
from answer_bank.coverage import FRAMEWORKS, UnknownFramework, coverage, coverage_svg, load_framework
from cli import main
from tests.curation_fixtures import small_bank_entries, starter_bank

SVG = "{http://www.w3.org/2000/svg}"


@pytest.fixture
def small(bank):
    bank.import_entries(small_bank_entries(), user="ana", keep_status=True)
    return bank


def test_the_catalogue_lists_every_control():
    iso = load_framework("iso42001")
    assert len(iso.controls) == 38
    assert iso.controls[0].id == "A.2.2" and iso.controls[-1].id == "A.10.4"
    assert [g.id for g in iso.groups] == [f"A.{n}" for n in range(2, 11)]
    nist = load_framework("nist-ai-rmf")
    assert {c.id.split()[0] for c in nist.controls} == {"GOVERN", "MAP", "MEASURE", "MANAGE"}
    assert all(c.title for key in FRAMEWORKS for c in load_framework(key).controls)
    with pytest.raises(UnknownFramework, match="iso42001"):
        load_framework("iso27001")


@pytest.mark.parametrize("framework, ref, control", [
    ("iso42001", "ISO42001:A.6.2.4", "A.6.2.4"),
    ("iso42001", "iso42001: a.6.2.4", "A.6.2.4"),
    ("iso42001", "ISO42001:A.2", None),  # an objective, not a control
    ("iso42001", "ISO42001:5.2", None),  # a clause of the standard's body
    ("iso42001", "NIST-AI-RMF:GOVERN 1.1", None),
    ("nist-ai-rmf", "NIST-AI-RMF:MEASURE 2.11", "MEASURE 2.11"),
    ("nist-ai-rmf", "NIST-AI-RMF:MEASURE 2.1", "MEASURE 2.1"),
    ("eu-ai-act", "EU-AI-ACT:Art.13", "Art.13"),
    ("eu-ai-act", "EU-AI-ACT:Art. 13(3)(b)", "Art.13"),
    ("eu-ai-act", "EU-AI-ACT:Art.1", None),
])
def test_references_map_to_controls(framework, ref, control):
    found = load_framework(framework).control_for(ref)
    assert (found.id if found else None) == control


def test_controls_are_covered_stale_or_gaps(small):
    report = coverage(small, "iso42001")
    state = {c.control.id: (c.state, [e.ext_id for e in c.entries]) for c in report.controls}
    assert state["A.2.2"] == ("covered", ["POL-1", "ROLE-1"])
    assert state["A.2.4"] == ("stale", ["POL-2"])  # its only answer is past its review date
    assert state["A.3.2"] == ("covered", ["ROLE-1"])
    assert state["A.5.2"] == ("gap", [])  # a draft does not cover anything
    assert report.count("gap") == 35
    assert [(e.ext_id, ref) for e, ref in report.unmatched] == [("ART-1", "ISO42001:B.9.9")]


def test_coverage_json_has_exactly_the_documented_shape(small):
    runner = CliRunner()
    result = runner.invoke(main, ["--db", small.path, "coverage", "--framework", "eu-ai-act", "--json"])
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    assert set(payload) == {"framework", "controls"} and payload["framework"] == "eu-ai-act"
    for control in payload["controls"]:
        assert set(control) == {"id", "title", "state", "entries"}
        assert control["state"] in ("covered", "stale", "gap")
    art13 = next(c for c in payload["controls"] if c["id"] == "Art.13")
    assert art13["state"] == "covered" and art13["entries"] == ["ART-1"]


def test_the_chart_is_a_grid_of_controls_coloured_by_state(small):
    svg = coverage_svg("iso42001", small)
    root = ET.fromstring(svg)  # well-formed XML
    assert root.tag == f"{SVG}svg"
    cells = [g for g in root.iter(f"{SVG}g") if g.get("data-control")]
    assert len(cells) == 38
    states = {g.get("data-control"): g.get("data-state") for g in cells}
    assert (states["A.2.2"], states["A.2.4"], states["A.5.2"]) == ("covered", "stale", "gap")
    # No script and no style attributes: renders inline under a strict CSP.
    assert "<script" not in svg and "style=" not in svg
    nist = ET.fromstring(coverage_svg("nist-ai-rmf", small))
    assert len([g for g in nist.iter(f"{SVG}g") if g.get("data-control")]) == len(load_framework("nist-ai-rmf").controls)


def test_the_chart_escapes_entry_ids(bank):
    bank.save_entry(BankEntry('<script>alert(1)</script>', "q?", "a", status="approved",
                              frameworks=["ISO42001:A.2.2"]), user="ana")
    svg = coverage_svg("iso42001", bank)
    ET.fromstring(svg)
    assert "<script>" not in svg and "&lt;script&gt;" in svg


def test_cli_writes_the_chart_and_refuses_an_unknown_framework(small, tmp_path):
    runner = CliRunner()
    out = tmp_path / "iso.svg"
    result = runner.invoke(main, ["--db", small.path, "coverage", "-f", "iso42001", "--svg", str(out)])
    assert result.exit_code == 0 and "A.2.4" in result.stdout
    assert "1 stale, 35 gaps of 38" in result.stderr
    ET.fromstring(out.read_text())
    bad = runner.invoke(main, ["--db", small.path, "coverage", "-f", "iso27001"])
    assert bad.exit_code == 2 and "iso27001" in bad.output


def test_the_starter_bank_covers_all_38_annex_a_controls(tmp_path):
    bank = starter_bank(tmp_path / "starter.db")
    result = CliRunner().invoke(main, ["--db", bank.path, "coverage", "--framework", "iso42001", "--json"])
    payload = json.loads(result.stdout)
    assert len(payload["controls"]) == 38
    not_covered = [c["id"] for c in payload["controls"] if c["state"] != "covered"]
    assert not_covered == []
    nist = coverage(bank, "nist-ai-rmf")
    assert nist.count("gap") == 0, [c.control.id for c in nist.controls if c.state == "gap"]
