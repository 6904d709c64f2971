"""Output API, output checking, differencing and mitigations on hand-worked tables."""

from __future__ import annotations

import csv
import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from herkomst import enclave as he
from herkomst.enclave import mitigate
from herkomst.enclave.checking import check_output
from herkomst.enclave.outputs import OutputKind, read_output
from herkomst.enclave.rules import CheckRules, Status
from herkomst.errors import InputError, MissingFile, UsageError

RULES = CheckRules()


def _data(tmp_path: Path, rows: list[dict[str, Any]], name: str = "pop") -> Any:
    cols = {k: [r[k] for r in rows] for k in rows[0]}
    t = pa.table({"seq_no": list(range(1, len(rows) + 1)), "year": [2021] * len(rows), **cols})
    pq.write_table(t, tmp_path / f"{name}.parquet")
    return he.dataset(tmp_path / f"{name}.parquet")


def _box(tmp_path: Path) -> Path:
    box = tmp_path / "outbox"
    box.mkdir(exist_ok=True)
    return box


def _table(out: Path) -> list[list[str]]:
    with open(out / "table.csv", newline="") as f:
        return list(csv.reader(f))


def _grid(spec: dict[tuple[str, str], int]) -> list[dict[str, Any]]:
    """Records of a region x sex table with the given cell counts."""
    rows = []
    for (r, s), n in spec.items():
        rows += [{"region": r, "sex": s, "age": 30 + i % 30} for i in range(n)]
    return rows


SAFE = {("A", "F"): 20, ("A", "M"): 25, ("B", "F"): 30, ("B", "M"): 12}


# -- the API ----------------------------------------------------------------------------------


def test_crosstab_counts_totals_membership(tmp_path: Path) -> None:
    data = _data(tmp_path, _grid(SAFE))
    out = he.crosstab(data, "region", "sex", name="xt", outbox=_box(tmp_path))
    assert _table(out) == [
        ["region", "sex", "count"],
        ["A", "F", "20"],
        ["A", "M", "25"],
        ["B", "F", "30"],
        ["B", "M", "12"],
        ["A", "(all)", "45"],
        ["B", "(all)", "42"],
        ["(all)", "F", "50"],
        ["(all)", "M", "37"],
        ["(all)", "(all)", "87"],
    ]
    rec = read_output(out)
    assert rec.kind == OutputKind.CROSSTAB
    assert rec.membership
    mem = pq.read_table(out / "membership.parquet").to_pylist()
    assert len(mem) == 87
    # records 1..20 are (A, F) = r0c0, in the order they were made
    assert {m["cell"] for m in mem[:20]} == {"r0c0"}
    assert sorted({m["cell"] for m in mem}) == ["r0c0", "r0c1", "r1c0", "r1c1"]
    assert check_output(out, RULES).status == Status.PASS


def test_outputs_are_byte_identical_when_remade(tmp_path: Path) -> None:
    rows = _grid(SAFE)
    for r in rows:
        r["income"] = 1000.0 + 0.1 * r["age"]
    data = _data(tmp_path, rows)
    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir()
    b.mkdir()
    for box in (a, b):
        he.percentages(data, "region", "sex", margin="col", name="p", outbox=box)
        he.magnitude(data, "income", "region", stat="mean", name="m", outbox=box)
        he.quantiles(data, "income", ["region", "sex"], name="q", outbox=box)
        he.regression(data, "income", ["age"], name="r", outbox=box)
    for f in sorted(a.rglob("*")):
        if f.is_file():
            assert f.read_bytes() == (b / f.relative_to(a)).read_bytes(), f


def test_percentages_carry_their_counts(tmp_path: Path) -> None:
    data = _data(tmp_path, _grid(SAFE))
    out = he.percentages(data, "region", "sex", margin="row", name="p", outbox=_box(tmp_path))
    t = _table(out)
    assert t[0] == ["region", "sex", "count", "percent"]
    assert t[1] == ["A", "F", "20", "44.44"]  # 20 / 45
    assert t[4] == ["B", "M", "12", "28.57"]  # 12 / 42
    assert t[7] == ["(all)", "F", "50", "57.47"]  # 50 / 87


def test_magnitude_and_quantiles_by_hand(tmp_path: Path) -> None:
    rows = [{"g": "x", "v": float(v)} for v in (1, 2, 3, 4, 100)]
    rows += [{"g": "y", "v": float(v)} for v in range(10, 20)]
    rows += [{"g": "y", "v": None}]  # left out, not counted
    data = _data(tmp_path, rows)
    box = _box(tmp_path)
    rec = read_output(he.magnitude(data, "v", "g", name="s", outbox=box))
    x, y = rec.cells
    assert (x.count, x.sum, x.top, x.negatives) == (5, 110.0, (100.0, 4.0), 0)
    assert (y.count, y.sum, y.top) == (10, 145.0, (19.0, 18.0))
    q = read_output(he.quantiles(data, "v", "g", qs=[0.5], name="q", outbox=box))
    assert [c.stat("q0.5") for c in q.cells] == [3.0, 14.5]


def test_regression_matches_a_hand_fit(tmp_path: Path) -> None:
    xs = [0.0, 1.0, 2.0, 3.0, 4.0, 5.0]
    ys = [1.0, 3.1, 4.9, 7.2, 8.8, 11.1]
    data = _data(tmp_path, [{"x": x, "y": y} for x, y in zip(xs, ys, strict=True)])
    rec = read_output(he.regression(data, "y", "x", name="m", outbox=_box(tmp_path)))
    assert rec.model is not None
    # closed form of simple regression
    xm, ym = np.mean(xs), np.mean(ys)
    sxx = sum((x - xm) ** 2 for x in xs)
    b1 = sum((x - xm) * (y - ym) for x, y in zip(xs, ys, strict=True)) / sxx
    b0 = ym - b1 * xm
    rss = sum((y - b0 - b1 * x) ** 2 for x, y in zip(xs, ys, strict=True))
    se1 = (rss / 4 / sxx) ** 0.5
    const, slope = rec.model.coefficients
    assert (rec.model.n, rec.model.dof) == (6, 4)
    assert slope.estimate == pytest.approx(b1)
    assert const.estimate == pytest.approx(b0)
    assert slope.std_error == pytest.approx(se1)
    assert check_output(tmp_path / "outbox" / "m", RULES).check("dof").status == Status.FAIL


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda d, b: he.crosstab(d, "region", "nope", name="x", outbox=b), "unknown column"),
        (lambda d, b: he.crosstab(d, "region", "sex", name="../x", outbox=b), "not allowed"),
        (
            lambda d, b: he.crosstab(d, "region", "sex", name="x", where="1; DROP", outbox=b),
            "one SQL",
        ),
        (lambda d, b: he.frequency(d, "seq_no", name="x", outbox=b), "identifies persons"),
        (
            lambda d, b: he.frequency(d.project("region"), "region", name="x", outbox=b),
            "seq_no and year",
        ),
        (
            lambda d, b: he.percentages(d, "region", "sex", margin="all", name="x", outbox=b),
            "margin",
        ),
        (lambda d, b: he.magnitude(d, "age", "region", stat="max", name="x", outbox=b), "stat"),
        (lambda d, b: he.quantiles(d, "age", "region", qs=[1.5], name="x", outbox=b), "qs"),
        (
            lambda d, b: he.crosstab(d, "region", "sex", name="x", where="nope > 1", outbox=b),
            "query failed",
        ),
    ],
)
def test_bad_calls_are_one_line_usage_errors(tmp_path: Path, call: Any, match: str) -> None:
    data = _data(tmp_path, _grid(SAFE))
    box = _box(tmp_path)
    with pytest.raises(UsageError, match=match) as e:
        call(data, box)
    assert "\n" not in str(e.value)
    assert [p.name for p in box.iterdir()] == []  # nothing half-written


def test_names_are_unique_and_outbox_required(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = _data(tmp_path, _grid(SAFE))
    box = _box(tmp_path)
    he.frequency(data, "region", name="f", outbox=box)
    with pytest.raises(UsageError, match="already exists"):
        he.frequency(data, "sex", name="f", outbox=box)
    monkeypatch.delenv("HERKOMST_ENCLAVE_OUTBOX", raising=False)
    with pytest.raises(UsageError, match="no outbox"):
        he.frequency(data, "sex", name="g")
    monkeypatch.setenv("HERKOMST_ENCLAVE_OUTBOX", str(box))
    assert he.frequency(data, "sex", name="g") == box / "g"
    monkeypatch.setenv("HERKOMST_ENCLAVE_DATA", str(tmp_path / "missing"))
    with pytest.raises(MissingFile):
        he.dataset()


def test_malformed_output_json_is_one_line_naming_the_file(tmp_path: Path) -> None:
    data = _data(tmp_path, _grid(SAFE))
    out = he.frequency(data, "region", name="f", outbox=_box(tmp_path))
    doc = json.loads((out / "output.json").read_text())
    for broken, match in (
        ("{not json", "not valid JSON"),
        (json.dumps({**doc, "kind": "pie"}), "unknown kind 'pie'"),
        (json.dumps({**doc, "cells": [{**doc["cells"][0], "count": "7"}]}), r"cells\[0\]\.count"),
        (json.dumps({k: v for k, v in doc.items() if k != "query"}), "missing key output.query"),
        (json.dumps({**doc, "files": ["../etc/passwd"]}), "not allowed"),
    ):
        (out / "output.json").write_text(broken)
        with pytest.raises(InputError, match=match) as e:
            check_output(out, RULES)
        assert str(out / "output.json") in str(e.value)
        assert "\n" not in str(e.value)


# -- the rules, one failing table each (hand-worked) ------------------------------------------


def test_threshold_fails_on_small_cell_and_small_total(tmp_path: Path) -> None:
    data = _data(tmp_path, _grid({**SAFE, ("C", "F"): 4, ("C", "M"): 3}))
    res = check_output(he.crosstab(data, "region", "sex", name="t", outbox=_box(tmp_path)), RULES)
    th = res.check("threshold")
    # C,F = 4; C,M = 3; C total = 7
    assert th.status == Status.FAIL
    assert th.cells == ("r2c0", "r2c1", "r2T")
    assert res.status == Status.FAIL
    assert any(s.startswith("suppress:") for s in res.suggestions)
    assert any("coarsen: merge region 'B' with 'C'" in s for s in res.suggestions)


def test_zeros_and_full_cells_go_to_review(tmp_path: Path) -> None:
    data = _data(tmp_path, _grid({**SAFE, ("C", "F"): 15}))  # C: nobody M
    res = check_output(he.crosstab(data, "region", "sex", name="z", outbox=_box(tmp_path)), RULES)
    assert res.check("threshold").status == Status.PASS
    assert (res.check("zeros").status, res.check("zeros").cells) == (Status.REVIEW, ("r2c1",))
    assert (res.check("full_cells").status, res.check("full_cells").cells) == (
        Status.REVIEW,
        ("r2c0",),
    )
    assert res.status == Status.REVIEW
    assert res.suggestions == ()
    strict = CheckRules(zeros=Status.FAIL)
    assert check_output(tmp_path / "outbox" / "z", strict).check("zeros").status == Status.FAIL


def test_percentages_fail_on_the_counts_behind_them(tmp_path: Path) -> None:
    # 9 of 9 (100%) in a row: the percentage is large, the count behind it is small
    data = _data(tmp_path, _grid({**SAFE, ("C", "F"): 9}))
    res = check_output(
        he.percentages(data, "region", "sex", name="p", outbox=_box(tmp_path)), RULES
    )
    assert res.check("threshold").status == Status.FAIL
    assert set(res.check("threshold").cells) == {"r2c0", "r2T"}
    assert "behind the percentages" in res.check("threshold").detail


def test_dominance_and_p_ratio_by_hand(tmp_path: Path) -> None:
    rows = [{"g": "nk", "v": v} for v in [50.0, 45.0] + [1.0] * 10]  # 95/105 >= .9; 10/50 = .2
    rows += [{"g": "p", "v": v} for v in [1000.0, 10.0] + [0.5] * 10]  # rest 5/1000 < .1
    rows += [{"g": "ok", "v": float(v)} for v in range(1, 13)]
    data = _data(tmp_path, rows)
    res = check_output(he.magnitude(data, "v", "g", name="m", outbox=_box(tmp_path)), RULES)
    rec = read_output(tmp_path / "outbox" / "m")
    label = {c.id: c.key[0][1] for c in rec.cells}
    assert {label[c] for c in res.check("dominance_nk").cells} == {"nk", "p"}
    assert {label[c] for c in res.check("p_ratio").cells} == {"p"}
    assert res.check("threshold").status == Status.PASS
    assert res.status == Status.FAIL


def test_mean_with_too_few_records_fails_threshold(tmp_path: Path) -> None:
    data = _data(tmp_path, [{"g": "a", "v": float(i)} for i in range(9)])
    res = check_output(
        he.magnitude(data, "v", "g", stat="mean", name="m", outbox=_box(tmp_path)), RULES
    )
    assert res.check("threshold").status == Status.FAIL


def test_free_files_and_figures_go_to_review(tmp_path: Path) -> None:
    box = _box(tmp_path)
    (tmp_path / "notes.txt").write_text("model notes\n")
    (tmp_path / "plot.png").write_bytes(b"\x89PNG\r\n\x1a\n")
    f = check_output(
        he.free_file(tmp_path / "notes.txt", name="n", description="notes", outbox=box), RULES
    )
    g = check_output(
        he.figure(tmp_path / "plot.png", name="g", description="a plot", outbox=box), RULES
    )
    assert f.status == g.status == Status.REVIEW
    assert (box / "n" / "notes.txt").read_text() == "model notes\n"
    assert g.files == ("figure.png",)
    assert "membership.parquet" not in g.sha256
    with pytest.raises(UsageError, match="figure must be"):
        he.figure(tmp_path / "notes.txt", name="h", description="x", outbox=box)


# -- differencing -----------------------------------------------------------------------------


def _ages(tmp_path: Path, n25: int) -> Any:
    """Ages 18-64 with many of every age except 25 (n25 persons)."""
    rows = []
    for age in range(18, 65):
        rows += [{"age": age}] * (n25 if age == 25 else 12)
    data = _data(tmp_path, rows, name=f"ages{n25}")
    return data.project(
        "*, CASE WHEN age <= 24 THEN '18-24' ELSE '25-64' END AS band_a, "
        "CASE WHEN age <= 25 THEN '18-25' ELSE '26-64' END AS band_b"
    )


def test_the_classic_pair_is_caught(tmp_path: Path) -> None:
    data = _ages(tmp_path, n25=3)
    box = _box(tmp_path)
    a = he.frequency(data, "band_a", name="a", outbox=box)
    b = he.frequency(data, "band_b", name="b", outbox=box)
    ra, rb = check_output(a, RULES), check_output(b, RULES)
    assert ra.status == rb.status == Status.PASS  # each safe alone
    together = check_output(b, RULES, released=[a])
    d = together.check("differencing")
    assert together.status == Status.FAIL
    assert d.status == Status.FAIL
    assert "b: band_b=18-25 & a: band_a=25-64 (n=3, attacker's interval [3, 3])" in d.detail
    assert d.cells == ("r0",)  # the 18-25 cell of b holds them
    # and the same the other way round
    assert check_output(a, RULES, released=[b]).status == Status.FAIL
    # a where-filter that removes the 25-year-olds from one output does not hide them
    c = he.frequency(data, "band_a", name="c", where="age <> 25", outbox=box)
    assert check_output(c, RULES, released=[a]).check("differencing").status == Status.FAIL


def test_pair_with_a_large_difference_passes(tmp_path: Path) -> None:
    data = _ages(tmp_path, n25=12)
    box = _box(tmp_path)
    a = he.frequency(data, "band_a", name="a", outbox=box)
    b = he.frequency(data, "band_b", name="b", outbox=box)
    assert check_output(b, RULES, released=[a]).status == Status.PASS


def test_differencing_detects_a_changed_membership(tmp_path: Path) -> None:
    data = _ages(tmp_path, n25=3)
    out = he.frequency(data, "band_a", name="a", outbox=_box(tmp_path))
    mem = pq.read_table(out / "membership.parquet").slice(1)
    pq.write_table(mem, out / "membership.parquet")
    with pytest.raises(InputError, match="membership holds"):
        check_output(out, RULES)


def test_regressions_on_nested_selections_are_differenced(tmp_path: Path) -> None:
    rows = [{"x": float(i % 7), "y": float(i % 5), "g": "a" if i < 4 else "b"} for i in range(60)]
    data = _data(tmp_path, rows)
    box = _box(tmp_path)
    m1 = he.regression(data, "y", "x", name="all", outbox=box)
    m2 = he.regression(data, "y", "x", name="most", where="g = 'b'", outbox=box)
    assert check_output(m1, RULES).status == Status.PASS
    res = check_output(m2, RULES, released=[m1])
    assert res.check("differencing").status == Status.FAIL  # the 4 records of g = a


# -- mitigations, re-checked -------------------------------------------------------------------


def test_suppression_adds_complementary_cells_and_passes(tmp_path: Path) -> None:
    spec = {
        ("A", "F"): 20, ("A", "M"): 25, ("A", "X"): 14,
        ("B", "F"): 30, ("B", "M"): 4, ("B", "X"): 18,
        ("C", "F"): 22, ("C", "M"): 16, ("C", "X"): 19,
    }  # fmt: skip
    data = _data(tmp_path, _grid(spec))
    box = _box(tmp_path)
    out = he.crosstab(data, "region", "sex", name="t", outbox=box)
    res = check_output(out, RULES)
    assert res.check("threshold").cells == ("r1c1",)
    sup = mitigate.suppress("t", outbox=box)
    rec = read_output(sup)
    hidden = [c.id for c in rec.cells if c.suppressed]
    # B,M = 4 hidden; the smallest cells of its row (B,X = 18) and column (C,M = 16), and
    # C,X = 19 closing the rectangle (otherwise C,M would be pinned by row C, then B,M by
    # column M). The attacker's interval of B,M is then [0, 20].
    assert hidden == ["r1c1", "r1c2", "r2c1", "r2c2"]
    assert rec.mitigation == "suppressed r1c1; complementary r1c2, r2c1, r2c2"
    again = check_output(sup, RULES)
    assert again.status == Status.PASS, again.to_json()
    t = _table(sup)
    assert ["B", "M", "x"] in t
    assert ["A", "X", "14"] in t


def test_a_suppression_without_complements_is_caught(tmp_path: Path) -> None:
    data = _data(tmp_path, _grid({**SAFE, ("C", "F"): 15, ("C", "M"): 4}))
    box = _box(tmp_path)
    out = he.crosstab(data, "region", "sex", name="t", outbox=box)
    rec = read_output(out)
    bare = replace(
        rec, name="bare", cells=tuple(replace(c, suppressed=c.id == "r2c1") for c in rec.cells)
    )
    (box / "bare").mkdir()
    (box / "bare" / "output.json").write_text(bare.dumps())
    (box / "bare" / "table.csv").write_text("hand-made\n")
    (box / "bare" / "membership.parquet").write_bytes((out / "membership.parquet").read_bytes())
    res = check_output(box / "bare", RULES)
    assert res.check("threshold").status == Status.PASS  # the small cell is hidden...
    d = res.check("differencing")  # ...but its row total gives it away: 19 - 15
    assert d.status == Status.FAIL
    assert "[4, 4]" in d.detail
    assert d.cells == ("r2c1",)


def test_coarsening_merges_categories_and_passes(tmp_path: Path) -> None:
    data = _data(tmp_path, _grid({**SAFE, ("C", "F"): 4, ("C", "M"): 8}))
    box = _box(tmp_path)
    he.crosstab(data, "region", "sex", name="t", outbox=box)
    new = mitigate.coarsen("t", "region", {"B+C": ["B", "C"]}, outbox=box)
    assert _table(new)[1:5] == [
        ["A", "F", "20"],
        ["A", "M", "25"],
        ["B+C", "F", "34"],
        ["B+C", "M", "20"],
    ]
    mem = pq.read_table(new / "membership.parquet")
    assert mem.num_rows == 99
    assert set(mem["cell"].to_pylist()) == {"r0c0", "r0c1", "r1c0", "r1c1"}
    assert check_output(new, RULES).status == Status.PASS
    rec = read_output(new)
    assert rec.derived_from == "t"
    assert rec.mitigation == "merged region: B+C = B + C"
    with pytest.raises(UsageError, match="no category"):
        mitigate.coarsen("t", "region", {"x": ["Z"]}, name="t2", outbox=box)


def test_coarsening_a_magnitude_table(tmp_path: Path) -> None:
    rows = [
        {"g": g, "v": float(i)} for g, n in (("a", 6), ("b", 8), ("c", 20)) for i in range(1, n + 1)
    ]
    data = _data(tmp_path, rows)
    box = _box(tmp_path)
    he.magnitude(data, "v", "g", stat="mean", name="m", outbox=box)
    new = read_output(mitigate.coarsen("m", "g", {"a+b": ["a", "b"]}, outbox=box))
    ab = new.cells[0]
    assert (ab.count, ab.sum, ab.top) == (14, 21.0 + 36.0, (8.0, 7.0))
    assert ab.stat("mean") == pytest.approx(57.0 / 14)
