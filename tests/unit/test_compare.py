"""`labrys compare` fed stored verdicts (no cluster): every cell kind, the Hermitage
table and its findings, and the Markdown, JSON and command line built on them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from labrys.claims import default_registry, find_runs, observe_run
from labrys.cli import main
from labrys.compare import CellKind, build_matrix, matrix_json, render_markdown, splice
from tests.unit.stored_runs import ETCD, comparison_store, store_run, valid_verdict

REGISTRY = default_registry()

@pytest.fixture
def store(tmp_path: Path) -> Path:
    return comparison_store(tmp_path)


def matrix_of(store: Path):
    return build_matrix([observe_run(p) for p in find_runs(store)], REGISTRY)


def row(matrix, system: str, configuration: str):
    return next(r for r in matrix.rows
                if r.system == system and r.configuration == configuration)


def test_rows_are_system_configuration_and_faults(store):
    matrix = matrix_of(store)
    assert [(r.system, r.configuration, r.faults) for r in matrix.rows] == [
        ("etcd", "defaults", "partition, 10 s"),
        ("PostgreSQL", "isolation=read-committed", "none"),
        ("PostgreSQL", "isolation=serializable", "none"),
        ("PostgreSQL", "read_from=replica", "none"),
        ("Redis + Sentinel", "defaults", "partition (primaries), 12 s"),
    ]
    assert [len(r.observations) for r in matrix.rows] == [2, 2, 2, 1, 2]


def test_each_cell_kind(store):
    matrix = matrix_of(store)
    etcd = row(matrix, "etcd", "defaults")
    redis = row(matrix, "Redis + Sentinel", "defaults")
    rc = row(matrix, "PostgreSQL", "isolation=read-committed")
    ser = row(matrix, "PostgreSQL", "isolation=serializable")
    replica = row(matrix, "PostgreSQL", "read_from=replica")

    assert etcd.guarantees["linearizable"].kind is CellKind.CLAIMED_HELD
    assert etcd.guarantees["linearizable"].decided == 2
    assert etcd.guarantees["serializable"].kind is CellKind.NOT_TESTED

    lost = redis.guarantees["no-lost-writes"]
    assert lost.kind is CellKind.UNCLAIMED_VIOLATED and (lost.violated, lost.decided) == (2, 2)
    assert not lost.claimed and lost.stance.source.id == "redis-persistence"  # disclaimed

    assert rc.guarantees["read-committed"].kind is CellKind.CLAIMED_HELD
    serializable_at_rc = rc.guarantees["serializable"]
    assert serializable_at_rc.kind is CellKind.UNCLAIMED_VIOLATED  # write skew, not promised
    assert serializable_at_rc.violated == 1

    broken = ser.guarantees["serializable"]
    assert broken.kind is CellKind.CLAIMED_VIOLATED and (broken.violated, broken.decided) == (1, 2)
    assert broken.witnesses[0].spec.seed == 1 and broken.witnesses[0].witness.startswith("G2-item")
    assert ser.guarantees["snapshot-isolation"].kind is CellKind.UNCLAIMED_NOT_OBSERVED

    assert replica.guarantees["linearizable"].kind is CellKind.UNDECIDED


def test_anomaly_columns_say_whether_the_claims_prevent_the_kind(store):
    matrix = matrix_of(store)
    assert matrix.anomalies == ("G2-item", "lost")
    rc = row(matrix, "PostgreSQL", "isolation=read-committed").anomalies["G2-item"]
    assert rc.kind is CellKind.UNCLAIMED_VIOLATED and rc.found == {"G2-item": 1}
    ser = row(matrix, "PostgreSQL", "isolation=serializable").anomalies["G2-item"]
    assert ser.kind is CellKind.CLAIMED_VIOLATED


def test_the_hermitage_table_sets_observations_beside_the_published_levels(store):
    matrix = matrix_of(store)
    (table,) = matrix.tables
    assert table.source.id == "hermitage"
    assert table.kinds == ("G0", "G1a", "G1b", "G1c", "G-single", "G2-item", "G2",
                           "lost-update")
    cells = {r.configuration: c for r, c in table.rows}
    assert set(cells) == {"isolation=read-committed", "isolation=serializable"}
    rc, ser = cells["isolation=read-committed"], cells["isolation=serializable"]
    assert rc["G1c"].kind is CellKind.CLAIMED_HELD and rc["G1c"].decided == 2
    assert rc["G2-item"].kind is CellKind.UNCLAIMED_VIOLATED
    assert rc["G2"].kind is CellKind.UNCLAIMED_VIOLATED  # G2-item is a G2
    assert rc["G2"].found == {"G2-item": 1}
    assert rc["lost-update"].kind is CellKind.UNCLAIMED_NOT_OBSERVED
    assert ser["G2-item"].kind is CellKind.CLAIMED_VIOLATED
    findings = [(r.configuration, k) for r, k, _ in table.findings()]
    assert findings == [("isolation=serializable", "G2-item"), ("isolation=serializable", "G2")]


def test_markdown_names_each_cell_and_lists_findings_with_their_witness(store, tmp_path):
    matrix = matrix_of(store)
    md = render_markdown(matrix)
    assert "| etcd | defaults | partition, 10 s | 2: register 2 | claimed · held 2/2 |" in md
    assert "disclaimed · violated 2/2" in md
    assert "claimed · VIOLATED 1/2 [1]" in md            # serializable at serializable
    assert "prevented · SEEN 1/2 (G2-item ×1) [2]" in md
    assert "allowed · seen 1/2 (G2-item ×1)" in md
    assert "prevented · not seen 0/2" in md
    assert "claimed · undecided (1)" in md
    assert "lost/acknowledged adds: 10/100, 20/100" in md
    assert "1. PostgreSQL · isolation=serializable · none, serializable: PostgreSQL 15 " \
        "documentation, 13.2 Transaction Isolation" in md
    assert "postgres-list-append-none-isolation=serializable seed 1: G2-item" in md
    assert "[Hermitage: testing transaction isolation levels" in md
    linked = render_markdown(matrix, links_from=store)
    assert "[postgres-list-append-none-isolation=serializable seed 1](postgres-list-append-" \
        "none-isolation=serializable/" in linked


def test_json_keeps_every_cell_kind_and_paths_relative_to_the_output(store):
    data = matrix_json(matrix_of(store), base=store)
    assert data["cell_kinds"] == [k.value for k in CellKind]
    kinds = {c["kind"] for r in data["rows"] for c in r["guarantees"].values()}
    assert kinds == {k.value for k in CellKind}
    (ser_row,) = [r for r in data["rows"] if r["configuration"] == "isolation=serializable"]
    ser = ser_row["guarantees"]["serializable"]
    assert ser["claim"] == {"holds": True, "source": "pg-isolation",
                            "says": ser["claim"]["says"], "implied_by": None}
    assert (store / ser["witnesses"][0]["path"] / "results.json").exists()
    assert [f["column"] for f in data["findings"]] == ["serializable", "G2-item", "G2"]
    json.dumps(data)


def test_splice_replaces_only_the_generated_part_between_marker_lines():
    prose = "mention `<!-- labrys compare -->` and `<!-- end labrys compare -->` inline\n"
    doc = prose + "<!-- labrys compare -->\nold\n<!-- end labrys compare -->\nafter\n"
    assert splice(doc, "new\n") == (
        prose + "<!-- labrys compare -->\nnew\n<!-- end labrys compare -->\nafter\n")
    with pytest.raises(ValueError, match="lines"):
        splice(prose, "x")


def test_the_command_writes_every_form_updates_a_document_and_exits_1_on_a_finding(
        store, tmp_path, capsys):
    out = tmp_path / "out"
    doc = tmp_path / "README.md"
    doc.write_text("# x\n<!-- labrys compare -->\n<!-- end labrys compare -->\n")
    with pytest.raises(SystemExit) as e:
        main(["compare", "--from", str(store), "--out", str(out), "--into", str(doc)])
    assert e.value.code == 1
    assert (out / "compare.md").exists() and (out / "compare.json").exists()
    assert "claimed · VIOLATED 1/2 [1]" in doc.read_text()
    assert "claims against observations" in capsys.readouterr().out


def test_the_command_wants_one_source_of_runs(capsys):
    with pytest.raises(SystemExit) as e:
        main(["compare"])
    assert e.value.code == 255
    assert "give either --suite FILE" in capsys.readouterr().err


def test_an_unreadable_run_is_skipped_with_a_line(store, tmp_path, capsys):
    broken = store_run(store, ETCD.with_seed(9), valid_verdict("linearizable"))
    (broken / "results.json").write_text("{")
    with pytest.raises(SystemExit):
        main(["compare", "--from", str(store), "--out", str(tmp_path / "o")])
    assert f"skipped {broken}" in capsys.readouterr().err
