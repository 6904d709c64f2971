"""Peer check: our per-cell verdicts against ACRO's (SACRO's checker, acro 1.0.2 from PyPI).

ACRO is configured with the same thresholds as our CheckRules (its ``default.yaml`` keys,
set on the session's ``SDCChecks``). Wherever the rule is the same, the cells each flags must
be the same; the known differences (docs/output_checking.md, "ACRO comparison") must be
exactly the expected ones:

1. percentages: ACRO applies the count threshold to the proportions (every cell fails); we
   apply it to the counts behind them;
2. zeros: the same cells, but ACRO's status is ``fail`` where SACRO's guidance (our default)
   is ``review``;
3. full cells (a row or column held by one cell): ACRO has no such rule;
4. negative values: ACRO marks only the negative cells for review and skips dominance for the
   rest of the table; we still judge the other cells;
5. ACRO's count threshold also flags the zero cells (0 < threshold); we judge zeros by the
   zeros rule only (a zero is not a small group of persons).
"""

from __future__ import annotations

import contextlib
import io
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from herkomst import enclave as he
from herkomst.enclave.checking import CheckedOutput, check_output
from herkomst.enclave.outputs import read_output
from herkomst.enclave.rules import CheckRules, Status

pd = pytest.importorskip("pandas")


def _acro(rules: CheckRules, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.chdir(tmp_path)
    with warnings.catch_warnings():
        # acro's sdcchecks module calls warnings.simplefilter("ignore", FutureWarning) on
        # import, and statsmodels/patsy import with DeprecationWarnings of their own on recent
        # numpy/pandas; neither concerns the checks compared here.
        warnings.simplefilter("ignore", DeprecationWarning)
        warnings.simplefilter("ignore", FutureWarning)
        from acro import ACRO, sdcchecks

        with contextlib.redirect_stdout(io.StringIO()):
            session = ACRO(suppress=False)
    config = dict(session.config)
    config.update(
        safe_threshold=rules.threshold,
        safe_dof_threshold=rules.min_dof,
        safe_nk_n=rules.dominance_n,
        safe_nk_k=rules.dominance_k,
        safe_pratio_p=rules.p_ratio,
        zeros_are_disclosive=True,
    )
    session.config = config
    session.sdc_checks = sdcchecks.SDCChecks(config)
    return session


def _quiet(fn: Any, *args: Any, **kwargs: Any) -> Any:
    """Run an ACRO call with its table printing and third-party warnings silenced."""
    with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
        # pandas inside acro warns (FutureWarning/DeprecationWarning) about its own
        # groupby/crosstab arguments; not ours to fix, and not a verdict.
        warnings.simplefilter("ignore", FutureWarning)
        warnings.simplefilter("ignore", DeprecationWarning)
        warnings.simplefilter("ignore", RuntimeWarning)  # 0/0 in ACRO's NK ratio of empty cells
        return fn(*args, **kwargs)


def _people() -> pd.DataFrame:
    """Regions A..D by sex; income with one dominated region and one NK-only region."""
    rows: list[tuple[str, str, float]] = []
    # A: 6 persons, all F -> threshold fails, (A, M) is a zero, (A, F) a full cell
    rows += [("A", "F", 1000.0 + i) for i in range(6)]
    # B: 40 persons, one contributor dominates -> NK and p-ratio fail
    rows += [("B", "F" if i % 2 else "M", 10.0) for i in range(39)] + [("B", "M", 100000.0)]
    # C: 40 persons, top two hold just over 90%, the rest 20% of the largest -> NK fails only
    rows += [("C", "F" if i % 2 else "M", 1.0) for i in range(38)]
    rows += [("C", "M", 190.0), ("C", "F", 170.0)]
    # D: 50 persons, spread -> everything passes
    rows += [("D", "F" if i % 3 else "M", 2000.0 + 37.0 * i) for i in range(50)]
    df = pd.DataFrame(rows, columns=["region", "sex", "income"])
    df["seq_no"] = np.arange(1, len(df) + 1)
    df["year"] = 2021
    df["age"] = (np.arange(len(df)) * 7919) % 47 + 18
    return df


@pytest.fixture
def world(tmp_path: Path) -> tuple[pd.DataFrame, Any, Path]:
    df = _people()
    pq.write_table(pa.Table.from_pandas(df, preserve_index=False), tmp_path / "pop.parquet")
    box = tmp_path / "outbox"
    box.mkdir()
    return df, he.dataset(tmp_path / "pop.parquet"), box


def _flags(outcome: pd.DataFrame, check: str) -> set[tuple[str, str]]:
    out = set()
    for r in outcome.index:
        for c in outcome.columns:
            if check in str(outcome.loc[r, c]):
                rr = r[-1] if isinstance(r, tuple) else r
                cc = c[-1] if isinstance(c, tuple) else c
                out.add((str(rr), str(cc)))
    return out


def _ours(res: CheckedOutput, out_dir: Path, rule: str) -> set[tuple[str, str]]:
    rec = read_output(out_dir)
    cells = res.check(rule).cells
    keys = set()
    for cid in cells:
        key = [v for _, v in rec.cell(cid).key]
        k = [("All" if v == "(all)" else v) for v in key]
        keys.add((k[0], k[1]) if len(k) == 2 else (k[0], rec.query.value or ""))
    return keys


RULES = [CheckRules(), CheckRules(threshold=7, dominance_k=0.8, p_ratio=0.15, min_dof=5)]


@pytest.mark.parametrize("rules", RULES, ids=["sacro-defaults", "other-thresholds"])
def test_crosstab_threshold_and_zeros_agree(
    world: tuple[pd.DataFrame, Any, Path],
    rules: CheckRules,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    df, data, box = world
    out = he.crosstab(data, "region", "sex", name="xt", outbox=box)
    ours = check_output(out, rules)
    acro = _acro(rules, tmp_path, monkeypatch)
    _quiet(acro.crosstab, df.region, df.sex, margins=True)
    rec = acro.results.get_index(0)
    # known difference 5: ACRO's threshold also catches the zero cells (0 < threshold); we
    # judge zeros by their own rule only
    assert _ours(ours, out, "threshold") | _ours(ours, out, "zeros") == _flags(
        rec.outcome, "MinimumThresholdCheck"
    )
    assert _ours(ours, out, "threshold") == {("A", "F"), ("A", "All")}
    assert _ours(ours, out, "zeros") == _flags(rec.outcome, "PresenceOfZeroCheck")
    assert _ours(ours, out, "zeros") == {("A", "M")}
    # known difference 2: same zero cell, ACRO fails it, we send it to review
    assert ours.check("zeros").status == Status.REVIEW
    assert rec.sdc["summary"]["PresenceOfZeroCheck"] == 1
    assert rec.status == "fail"
    # known difference 3: the full cell (region A all F) only we flag
    assert _ours(ours, out, "full_cells") == {("A", "F")}
    assert "full" not in str(rec.outcome.to_numpy()).lower()


def test_percentages_checked_on_counts_not_on_proportions(
    world: tuple[pd.DataFrame, Any, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    df, data, box = world
    rules = CheckRules()
    out = he.percentages(data, "region", "sex", margin="row", name="pct", outbox=box)
    ours = check_output(out, rules)
    acro = _acro(rules, tmp_path, monkeypatch)
    _quiet(acro.crosstab, df.region, df.sex, normalize="index")
    acro_flags = _flags(acro.results.get_index(0).outcome, "MinimumThresholdCheck")
    interior = {(r, s) for r in "ABCD" for s in ("F", "M")}
    # known difference 1: ACRO compares proportions (all < 10) with the count threshold
    assert acro_flags == interior
    counts = df.groupby(["region", "sex"]).size()
    small = {(r, s) for (r, s), n in counts.items() if 0 < n < rules.threshold}
    assert {k for k in _ours(ours, out, "threshold") if k in interior} == small == {("A", "F")}


@pytest.mark.parametrize("stat", ["sum", "mean"])
@pytest.mark.parametrize("rules", RULES, ids=["sacro-defaults", "other-thresholds"])
def test_magnitude_threshold_nk_pratio_agree(
    world: tuple[pd.DataFrame, Any, Path],
    stat: str,
    rules: CheckRules,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    df, data, box = world
    out = he.magnitude(data, "income", "region", stat=stat, name=f"mag_{stat}", outbox=box)
    ours = check_output(out, rules)
    acro = _acro(rules, tmp_path, monkeypatch)
    _quiet(acro.pivot_table, df, index=["region"], values=["income"], aggfunc=stat)
    outcome = acro.results.get_index(0).outcome
    for ours_rule, acro_check in (
        ("threshold", "MinimumThresholdCheck"),
        ("dominance_nk", "NKCheck"),
        ("p_ratio", "PPercentCheck"),
    ):
        assert {r for r, _ in _ours(ours, out, ours_rule)} == {
            r for r, _ in _flags(outcome, acro_check)
        }, ours_rule
    if rules == CheckRules():
        assert {r for r, _ in _ours(ours, out, "dominance_nk")} == {"B", "C"}
        assert {r for r, _ in _ours(ours, out, "p_ratio")} == {"B"}


def test_negative_values_known_difference(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    df = _people()
    df.loc[0, "income"] = -50.0  # region A gets a negative value
    pq.write_table(pa.Table.from_pandas(df, preserve_index=False), tmp_path / "neg.parquet")
    box = tmp_path / "box"
    box.mkdir()
    out = he.magnitude(
        he.dataset(tmp_path / "neg.parquet"), "income", "region", name="neg", outbox=box
    )
    rules = CheckRules()
    ours = check_output(out, rules)
    acro = _acro(rules, tmp_path, monkeypatch)
    _quiet(acro.pivot_table, df, index=["region"], values=["income"], aggfunc="sum")
    outcome = acro.results.get_index(0).outcome
    # ACRO: only the negative cell, for review; the dominance of B and C goes unchecked
    assert {r for r, _ in _flags(outcome, "NKCheck")} == {"A"}
    # us: A for review and B, C still fail
    assert {r for r, _ in _ours(ours, out, "dominance_nk")} == {"A", "B", "C"}
    assert ours.check("dominance_nk").status == Status.FAIL


def test_quantiles_threshold_agrees_with_acro_median(
    world: tuple[pd.DataFrame, Any, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    df, data, box = world
    rules = CheckRules()
    out = he.quantiles(data, "income", "region", qs=[0.5], name="med", outbox=box)
    ours = check_output(out, rules)
    acro = _acro(rules, tmp_path, monkeypatch)
    table = _quiet(acro.pivot_table, df, index=["region"], values=["income"], aggfunc="median")
    outcome = acro.results.get_index(0).outcome
    assert (
        {r for r, _ in _ours(ours, out, "threshold")}
        == {r for r, _ in _flags(outcome, "MinimumThresholdCheck")}
        == {"A"}
    )
    # same medians (both interpolate)
    rec = read_output(out)
    for c in rec.cells:
        region = c.key[0][1]
        assert c.stat("q0.5") == pytest.approx(float(table.loc[region].iloc[0]))


@pytest.mark.parametrize(("n", "expected"), [(11, Status.FAIL), (40, Status.PASS)])
def test_regression_dof_agrees(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, n: int, expected: Status
) -> None:
    rng = np.random.default_rng(7)
    x1 = rng.normal(size=n)
    x2 = rng.normal(size=n)
    y = 1.0 + 2.0 * x1 - x2 + rng.normal(scale=0.1, size=n)
    df = pd.DataFrame({"seq_no": np.arange(1, n + 1), "year": 2021, "y": y, "x1": x1, "x2": x2})
    pq.write_table(pa.Table.from_pandas(df, preserve_index=False), tmp_path / "r.parquet")
    box = tmp_path / "box"
    box.mkdir()
    out = he.regression(he.dataset(tmp_path / "r.parquet"), "y", ["x1", "x2"], name="m", outbox=box)
    rules = CheckRules()
    ours = check_output(out, rules)
    acro = _acro(rules, tmp_path, monkeypatch)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # statsmodels on recent scipy
        import statsmodels.api as sm

        exog = sm.add_constant(df[["x1", "x2"]])
    res = _quiet(acro.ols, df["y"], exog)
    rec = acro.results.get_index(0)
    assert ours.check("dof").status == expected
    assert rec.status == str(expected)
    assert rec.properties["dof"] == read_output(out).model.dof == n - 3  # type: ignore[union-attr]
    # and the same estimates and standard errors
    model = read_output(out).model
    assert model is not None
    for coef, b, se in zip(model.coefficients, res.params, res.bse, strict=True):
        assert coef.estimate == pytest.approx(b, rel=1e-9)
        assert coef.std_error == pytest.approx(se, rel=1e-9)
