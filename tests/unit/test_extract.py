"""Pseudonymised research extracts (issue 6): population, sample, pseudonyms, classes, files.

One small synthetic register (``SynthParams(seed=1, scale=5000)``) for the whole module; every
extract goes to its own warehouse folder so projects never share a vault.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import herkomst
from herkomst import AuthorizationError, Engine, RuleError, UsageError, ValidationOptions
from herkomst.extract import (
    ExtractParams,
    ExtractResult,
    RiskParams,
    SampleDesign,
    Vault,
    build_catalog,
    build_extract,
    draw_sample,
    extract_from_dwh,
    load_extract_authorization,
    new_vault_key,
    parse_vault_key,
    read_vault_key,
)
from herkomst.rules import RuleSet
from herkomst.synth import SynthParams, synthesize

DELIVERED = dt.date(2024, 3, 1)


@pytest.fixture(scope="module")
def dwh(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("synth")
    synthesize(SynthParams(seed=1, scale=5000), out)
    return out / "dwh"


@pytest.fixture(scope="module")
def engine(dwh: Path) -> Iterator[Engine]:
    eng = Engine()
    herkomst.load_dataset(eng, dwh, options=ValidationOptions())
    yield eng
    eng.close()


@pytest.fixture(scope="module")
def auth() -> herkomst.extract.ExtractAuthorization:
    return load_extract_authorization("23-224")


KEY = parse_vault_key("11" * 32)


def run(
    engine: Engine,
    auth: herkomst.extract.ExtractAuthorization,
    base: Path,
    project: str = "p1",
    population: str = "private",
    size: int = 400,
    seed: int = 5,
    key: bytes = KEY,
    **kw: object,
) -> ExtractResult:
    params = ExtractParams(
        project=project,
        population=population,
        sample_size=size,
        seed=seed,
        warehouse=base / "warehouse",
        delivered_on=kw.pop("delivered_on", DELIVERED),  # type: ignore[arg-type]
        **kw,  # type: ignore[arg-type]
    )
    return build_extract(engine, auth, params, base / "out" / project, key)


@pytest.fixture(scope="module")
def private(
    engine: Engine,
    auth: herkomst.extract.ExtractAuthorization,
    tmp_path_factory: pytest.TempPathFactory,
) -> ExtractResult:
    return run(engine, auth, tmp_path_factory.mktemp("private"))


def mapping(result: ExtractResult, project: str = "p1") -> dict[str, int]:
    return Vault(result.out_dir.parents[1] / "warehouse" / "vault", KEY).load(project)


def spearman(xs: list[float], ys: list[float]) -> float:
    def ranks(v: list[float]) -> list[float]:
        order = sorted(range(len(v)), key=lambda i: v[i])
        r = [0.0] * len(v)
        for rank, i in enumerate(order):
            r[i] = float(rank)
        return r

    rx, ry = ranks(xs), ranks(ys)
    n = len(xs)
    mx, my = sum(rx) / n, sum(ry) / n
    cov = sum((a - mx) * (b - my) for a, b in zip(rx, ry, strict=True))
    vx = sum((a - mx) ** 2 for a in rx)
    vy = sum((b - my) ** 2 for b in ry)
    return float(cov / (vx * vy) ** 0.5)


# -- the population and the sample -------------------------------------------------------------


def test_population_and_panel(private: ExtractResult, engine: Engine) -> None:
    expected = engine.scalar(
        """SELECT count(DISTINCT e.ssin) FROM employment e JOIN persons p USING (ssin)
           WHERE e.authority IS NULL AND e.year BETWEEN 2010 AND 2021
             AND e.year - year(p.birth_date) BETWEEN 18 AND 64"""
    )
    assert private.population_size == expected
    assert private.persons == 400
    table = pq.read_table(private.out_dir / "extract.parquet")
    assert table.num_rows == private.rows
    years = set(table.column("year").to_pylist())
    assert years <= set(range(2010, 2022))
    # a panel: every sampled person appears in every year he is 18-64 (no gaps)
    per: dict[int, list[int]] = {}
    for pid, year in zip(
        table.column("pid").to_pylist(), table.column("year").to_pylist(), strict=True
    ):
        per.setdefault(pid, []).append(year)
    assert all(sorted(v) == list(range(min(v), max(v) + 1)) for v in per.values())


def test_sample_file_and_inclusion_probabilities(private: ExtractResult) -> None:
    sample = pq.read_table(private.out_dir / "sample.parquet").to_pylist()
    assert len(sample) == 400
    pi = sample[0]["inclusion_probability"]
    assert pi == pytest.approx(400 / private.population_size)
    assert sum(r["weight"] for r in sample) == pytest.approx(private.population_size)
    assert private.manifest["design"]["seed"] == 5


def test_sample_reproducible_from_the_seed_and_different_otherwise(
    engine: Engine,
    auth: herkomst.extract.ExtractAuthorization,
    tmp_path: Path,
    private: ExtractResult,
) -> None:
    again = run(engine, auth, tmp_path, project="p-other", risk=None)
    other_seed = run(engine, auth, tmp_path, project="p-seed", seed=6, risk=None)
    a = set(mapping(private))
    assert set(Vault(tmp_path / "warehouse" / "vault", KEY).load("p-other")) == a
    assert set(Vault(tmp_path / "warehouse" / "vault", KEY).load("p-seed")) != a
    assert again.persons == other_seed.persons == 400


def test_draw_sample_stratified_proportional() -> None:
    strata = ["a"] * 60 + ["b"] * 30 + ["c"] * 10
    ssins = [f"{i:011d}" for i in range(100)]
    picked, alloc = draw_sample(strata, ssins, 10, 3, "federal")
    assert alloc == {"a": (6, 60), "b": (3, 30), "c": (1, 10)}
    assert len(set(picked)) == 10
    assert sum(1 for i in picked if strata[i] == "a") == 6
    assert draw_sample(strata, ssins, 10, 3, "federal")[0] == picked
    assert draw_sample(strata, ssins, 10, 3, "private")[0] != picked


def test_stratified_design_writes_stratum_probabilities(
    engine: Engine, auth: herkomst.extract.ExtractAuthorization, tmp_path: Path
) -> None:
    res = run(engine, auth, tmp_path, design=SampleDesign.STRATIFIED_SEX_AGE, size=200, risk=None)
    rows = pq.read_table(res.out_dir / "sample.parquet").to_pylist()
    strata = res.manifest["design"]["strata"]
    assert sum(s["n"] for s in strata.values()) == 200
    for r in rows:
        s = strata[r["stratum"]]
        assert r["inclusion_probability"] == pytest.approx(s["n"] / s["N"])
        assert re.fullmatch(r"(M|F|unknown)\|(18-24|25-34|35-44|45-54|55-64)", r["stratum"])


# -- pseudonyms --------------------------------------------------------------------------------


def test_pseudonyms_are_1_to_n_and_uncorrelated(private: ExtractResult, engine: Engine) -> None:
    m = mapping(private)
    assert sorted(m.values()) == list(range(1, 401))
    pids = pq.read_table(private.out_dir / "extract.parquet").column("pid").to_pylist()
    assert set(pids) == set(range(1, 401))
    ssins = sorted(m)
    births = dict(engine.rows("SELECT ssin, birth_date FROM persons"))
    by_ssin = spearman([float(i) for i in range(len(ssins))], [float(m[s]) for s in ssins])
    by_birth = spearman([float(births[s].toordinal()) for s in ssins], [float(m[s]) for s in ssins])
    # |rho| of a random permutation of 400 has sd 0.05; 0.2 is four sd
    assert abs(by_ssin) < 0.2
    assert abs(by_birth) < 0.2


def test_pseudonyms_stable_on_rerun_of_the_same_project(
    engine: Engine, auth: herkomst.extract.ExtractAuthorization, tmp_path: Path
) -> None:
    first = run(engine, auth, tmp_path, project="stable", size=150, risk=None)
    m1 = Vault(tmp_path / "warehouse" / "vault", KEY).load("stable")
    t1 = pq.read_table(first.out_dir / "extract.parquet")
    second = run(engine, auth, tmp_path, project="stable", size=150, risk=None)
    m2 = Vault(tmp_path / "warehouse" / "vault", KEY).load("stable")
    assert m1 == m2
    assert pq.read_table(second.out_dir / "extract.parquet").equals(t1)
    assert second.delivery == first.delivery + 1


def test_pseudonyms_unlinkable_between_projects(
    engine: Engine, auth: herkomst.extract.ExtractAuthorization, tmp_path: Path
) -> None:
    run(engine, auth, tmp_path, project="proj-a", risk=None)
    run(engine, auth, tmp_path, project="proj-b", risk=None)
    vault = Vault(tmp_path / "warehouse" / "vault", KEY)
    a, b = vault.load("proj-a"), vault.load("proj-b")
    assert set(a) == set(b)  # the same persons (same seed) ...
    same = sum(1 for s in a if a[s] == b[s])
    assert same < 10  # ... under independent numbers (expected 1 match)
    ssins = sorted(a)
    assert abs(spearman([float(a[s]) for s in ssins], [float(b[s]) for s in ssins])) < 0.2


def test_vault_is_encrypted_and_needs_the_key(private: ExtractResult) -> None:
    root = private.out_dir.parents[1] / "warehouse" / "vault"
    blob = (root / "p1.map").read_bytes()
    some = next(iter(mapping(private)))
    assert some.encode() not in blob
    assert b"ssin" not in blob
    with pytest.raises(herkomst.InputError, match="does not open the vault"):
        Vault(root, parse_vault_key("22" * 32)).load("p1")
    assert (root / "p1.map").stat().st_mode & 0o077 == 0


def test_vault_key_from_file_or_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    key = new_vault_key()
    (tmp_path / "k").write_text(key + "\n")
    assert read_vault_key(tmp_path / "k") == bytes.fromhex(key)
    monkeypatch.setenv("HERKOMST_VAULT_KEY", key)
    assert read_vault_key() == bytes.fromhex(key)
    monkeypatch.delenv("HERKOMST_VAULT_KEY")
    with pytest.raises(UsageError, match="HERKOMST_VAULT_KEY"):
        read_vault_key()
    with pytest.raises(UsageError, match="32 bytes"):
        parse_vault_key("abc")


# -- nothing identifying in the output ---------------------------------------------------------


def test_no_ssin_part_or_birth_date_in_any_output_byte(
    private: ExtractResult, engine: Engine
) -> None:
    people = engine.rows("SELECT ssin, birth_date FROM persons")
    files = [p for p in private.out_dir.rglob("*") if p.is_file()]
    assert {p.name for p in files} >= {
        "extract.parquet",
        "extract.csv",
        "sample.parquet",
        "sample.csv",
        "codebook.md",
        "codebook.json",
        "manifest.json",
        "risk_report.json",
        "risk_report.md",
    }
    sampled = set(mapping(private))
    for path in files:
        data = path.read_bytes()
        # whole numbers standing alone (not the decimals of a float, not inside a hex digest)
        alone = rb"(?<![\w.])\d+(?![\w.])"
        tokens = set(re.findall(alone, data)) if path.suffix != ".parquet" else set()
        for ssin, birth in people:
            s = ssin.encode()
            assert s not in data, path.name
            assert s[:9] not in data, path.name  # birth date and serial
            if ssin in sampled:
                assert s[:6] not in tokens, path.name  # YYMMDD as a value
                if birth is not None:
                    assert birth.isoformat().encode() not in data, path.name
                    assert birth.strftime("%Y%m%d").encode() not in data, path.name
                    assert birth.strftime("%d/%m/%Y").encode() not in data, path.name


# -- classes -----------------------------------------------------------------------------------


def test_every_variable_only_in_its_authorized_classes(
    private: ExtractResult, auth: herkomst.extract.ExtractAuthorization
) -> None:
    catalog = build_catalog(RuleSet())
    table = pq.read_table(private.out_dir / "extract.parquet")
    book = {
        v["name"]: v
        for v in json.loads((private.out_dir / "codebook.json").read_text())["variables"]
    }
    assert table.column_names == ["pid", "year", *auth.variables]
    for name, grant in auth.variables.items():
        scheme = catalog[name].scheme(private.manifest["variables"][name])
        assert scheme.rank >= catalog[name].scheme(grant.finest).rank
        values = set(table.column(name).to_pylist())
        if scheme.year:
            assert all(v is None or 1900 <= v <= 2021 for v in values), name
        else:
            assert values <= set(scheme.codes()), (name, values - set(scheme.codes()))
            assert values <= {c["code"] for c in book[name]["classes"]}
    # a few facts about the classes of 23-224
    assert set(table.column("age_class").to_pylist()) <= {
        "18-24",
        "25-34",
        "35-44",
        "45-54",
        "55-64",
    }
    assert all(len(v) == 2 or v in ("none", "unknown") for v in table.column("nace").to_pylist())


def test_codebook_and_manifest(
    private: ExtractResult, auth: herkomst.extract.ExtractAuthorization
) -> None:
    m = json.loads((private.out_dir / "manifest.json").read_text())
    assert m["authorization"]["id"] == "23-224"
    assert m["authorization"]["sha256"] == auth.sha256
    assert m["retention_end"] == "2024-12-31"
    assert m["population"]["authority_codes"] == []
    assert m["population"]["rule"] == "null"
    assert m["counts"] == {"persons": 400, "person_years": private.rows}
    assert {r["name"] for r in m["rules"]} >= {"country_classes", "class_groups"}
    for name, digest in m["files"].items():
        import hashlib

        assert hashlib.sha256((private.out_dir / name).read_bytes()).hexdigest() == digest
    md = (private.out_dir / "codebook.md").read_text()
    assert "## `national_origin`" in md
    assert "`MA`" in md


# -- refusals ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kw", "error", "match"),
    [
        ({"size": 10001}, AuthorizationError, r"\[sample\] max_persons, points 2, 3 and 13"),
        (
            {"delivered_on": dt.date(2025, 1, 1)},
            AuthorizationError,
            r"\[retention\] end, points 5 and 18",
        ),
        (
            {"variables": (("age_class", "age"),)},
            AuthorizationError,
            r"\[variables.age_class\] finest",
        ),
        ({"variables": (("nace", "nace5"),)}, AuthorizationError, r"\[variables.nace\] finest"),
        ({"variables": (("birth_country", "country"),)}, AuthorizationError, r"'country' is finer"),
        ({"variables": (("regime", None),)}, UsageError, "unknown extract variable 'regime'"),
        ({"first_year": 2009}, AuthorizationError, r"\[period\], point 4"),
        ({"population": "flemish"}, AuthorizationError, r"\[population\]"),
    ],
)
def test_refusals_name_the_clause(
    engine: Engine,
    auth: herkomst.extract.ExtractAuthorization,
    tmp_path: Path,
    kw: dict[str, object],
    error: type[Exception],
    match: str,
) -> None:
    with pytest.raises(error, match=match):
        run(engine, auth, tmp_path, **kw)  # type: ignore[arg-type]
    assert not (tmp_path / "out").exists()


def test_refuses_a_variable_the_authorization_does_not_grant(
    engine: Engine, tmp_path: Path
) -> None:
    text = (herkomst.rules.BUNDLED / "authorization_23-224.toml").read_text()
    cut = re.sub(r"\[variables\.education_field\][^\[]*", "", text)
    path = tmp_path / "authorization_test.toml"
    path.write_text(cut)
    narrow = load_extract_authorization(path)
    with pytest.raises(
        AuthorizationError,
        match=r"\[variables\], point 4\) does not allow the variable 'education_field'",
    ):
        run(engine, narrow, tmp_path, variables=(("education_field", None),))


def test_coarser_scheme_is_allowed(
    engine: Engine, auth: herkomst.extract.ExtractAuthorization, tmp_path: Path
) -> None:
    res = run(
        engine,
        auth,
        tmp_path,
        size=50,
        risk=None,
        variables=(("sex", None), ("nace", "nace_section"), ("registration_year", "period_5y")),
    )
    table = pq.read_table(res.out_dir / "extract.parquet")
    assert table.column_names == ["pid", "year", "sex", "nace", "registration_year"]
    assert all(
        v is None or re.fullmatch(r"\d{4}-\d{4}", v)
        for v in table.column("registration_year").to_pylist()
    )


@pytest.mark.parametrize(
    ("edit", "match"),
    [
        (lambda t: t.replace('kind = "pseudonymised_extract"', 'kind = "tables"'), "kind must be"),
        (lambda t: t + '\n[variables.salary]\nfinest = "euro"\nclause = "x"\n', "unknown variable"),
        (lambda t: t.replace('finest = "age_10y"', 'finest = "age_3y"'), "unknown scheme"),
        (
            lambda t: t.replace("max_persons = 10000", "max_persons = 10000\nmin_persons = 1"),
            "unknown key",
        ),
        (lambda t: t.replace('rule = "null"', 'rule = "none"'), "rule must be"),
    ],
)
def test_loader_fails_closed(tmp_path: Path, edit: object, match: str) -> None:
    text = (herkomst.rules.BUNDLED / "authorization_23-224.toml").read_text()
    path = tmp_path / "authorization_bad.toml"
    path.write_text(edit(text))  # type: ignore[operator]
    with pytest.raises(RuleError, match=match):
        load_extract_authorization(path)


def test_risk_reduction_reaches_the_target(
    engine: Engine, auth: herkomst.extract.ExtractAuthorization, tmp_path: Path
) -> None:
    res = run(engine, auth, tmp_path, risk=RiskParams(target_k=3))
    assert res.risk is not None
    assert res.risk.reduction is not None
    red = res.risk.reduction
    assert res.risk.overall["k"] >= 3
    assert red.after["k"] >= 3
    assert red.before["k"] < 3
    table = pq.read_table(res.out_dir / "extract.parquet")
    catalog = build_catalog(RuleSet())
    for name, scheme in red.schemes.items():
        values = {v for v in table.column(name).to_pylist() if v not in (None, "*")}
        if not scheme.year:
            assert values <= set(scheme.codes()), name
    counts: dict[tuple[object, ...], int] = {}
    keys = list(res.risk.keys)
    for row in table.select(["year", *keys]).to_pylist():
        k = tuple(row.values())
        counts[k] = counts.get(k, 0) + 1
    assert min(counts.values()) >= 3
    assert catalog["nace"].scheme(red.schemes["nace"].name).rank >= 2
    report = json.loads((res.out_dir / "risk_report.json").read_text())
    assert report["reduction"]["target_met"] is True


def test_values_agree_with_the_register(private: ExtractResult, engine: Engine) -> None:
    """Back through the vault (warehouse side): each class is the one of the person's facts."""
    m = mapping(private)
    engine.register(
        "t_map", pa.table({"ssin": list(m), "pid": pa.array(list(m.values()), pa.int64())})
    )
    engine.register("t_ext", pq.read_table(private.out_dir / "extract.parquet"))
    bad = engine.rows(
        """SELECT x.pid, x.year FROM t_ext x JOIN t_map USING (pid) JOIN persons p USING (ssin)
           LEFT JOIN residence r ON r.ssin = p.ssin AND r.year = x.year
           WHERE x.sex IS DISTINCT FROM coalesce(p.sex, 'unknown')
              OR x.registration_year IS DISTINCT FROM year(p.registration_date)
              OR x.region IS DISTINCT FROM coalesce(r.region, 'unknown')
              OR x.age_class <> CASE
                   WHEN x.year - year(p.birth_date) <= 24 THEN '18-24'
                   WHEN x.year - year(p.birth_date) <= 34 THEN '25-34'
                   WHEN x.year - year(p.birth_date) <= 44 THEN '35-44'
                   WHEN x.year - year(p.birth_date) <= 54 THEN '45-54' ELSE '55-64' END"""
    )
    assert bad == []
    # every person had a private job in some year of the period; the panel shows it
    assert engine.scalar(
        "SELECT count(DISTINCT pid) FROM t_ext WHERE employer_type = 'private'"
    ) == len(m)
    engine.con.unregister("t_map")
    engine.con.unregister("t_ext")


def test_docs_cover_every_variable_scheme_and_parameter() -> None:
    text = (Path(__file__).parents[2] / "docs" / "extracts.md").read_text()
    for var in build_catalog(RuleSet()).values():
        assert f"`{var.name}`" in text, var.name
        for scheme in var.schemes:
            assert scheme.name in text, (var.name, scheme.name)
    for name in RiskParams.__dataclass_fields__:
        assert name in text, name


def test_output_folder_must_be_empty_or_the_same_project(
    engine: Engine, auth: herkomst.extract.ExtractAuthorization, tmp_path: Path
) -> None:
    out = tmp_path / "out" / "p1"
    out.mkdir(parents=True)
    (out / "notes.txt").write_text("mine")
    with pytest.raises(UsageError, match="output folder is not empty"):
        run(engine, auth, tmp_path, size=20, risk=None)
    assert (out / "notes.txt").read_text() == "mine"


def test_extract_from_dwh_reads_the_key_from_the_environment(
    dwh: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HERKOMST_VAULT_KEY", "55" * 32)
    res = extract_from_dwh(
        dwh,
        tmp_path / "out",
        tmp_path / "wh",
        population="federal",
        sample_size=20,
        seed=3,
        delivered_on=DELIVERED,
    )
    assert res.manifest["project"] == "23-224-federal"
    assert res.persons == 20
    assert Vault(tmp_path / "wh" / "vault", parse_vault_key("55" * 32)).exists("23-224-federal")
