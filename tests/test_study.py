"""Study definition files: the shipped IGNITE file loads; invalid files give a clear message and exit code 2."""

import subprocess
import sys
from pathlib import Path

import pytest

from trialkit.cli import main
from trialkit.errors import TrialkitError
from trialkit.study import load_study

ROOT = Path(__file__).resolve().parents[1]
IGNITE = ROOT / "studies" / "ignite.toml"


def test_ignite_loads():
    s = load_study(IGNITE)
    assert s.study.n_randomized == 769 and s.study.duration_weeks == 24
    assert [a.allocation for a in s.arms] == [3, 2, 2]
    assert [a.dose_mg for a in s.arms] == [300, 150, 0] and s.placebo.id == "PBO"
    assert s.arms[0].regimen.weeks == [0, 2, 4, 8, 12, 16, 20]
    assert s.visit_weeks == [0, 2, 4, 8, 12, 16, 20, 24]
    roles = {e.id: e.role for e in s.endpoints}
    assert roles["EASI75"] == roles["VIGA01"] == "co-primary" and roles["RIGA01"] == "key-secondary"
    for st in s.strata:
        assert sum(st.prevalence) == pytest.approx(1.0)
    assert s.published_for("EASI75", "ROC300").rate == 0.423


def _mutate(tmp_path: Path, old: str, new: str) -> Path:
    text = IGNITE.read_text()
    assert old in text, old
    p = tmp_path / "bad.toml"
    p.write_text(text.replace(old, new, 1))
    return p


CASES = [
    ("unknown key", 'sides = 2\n', 'sides = 2\ncolour = "blue"\n', ["study.colour", "unknown key"]),
    ("wrong type", "n_randomized = 769", 'n_randomized = "many"', ["study.n_randomized", "integer"]),
    ("allocation not positive", "allocation = 3", "allocation = 0", ["arms[0].allocation", "greater than 0"]),
    ("endpoint at a missing visit", "visit_week = 24\nrule = { kind = \"pct_reduction\", threshold = 75 }",
     "visit_week = 30\nrule = { kind = \"pct_reduction\", threshold = 75 }",
     ["endpoints[0].visit_week", "week 30", "not a visit"]),
    ("prevalences do not sum to 1", "prevalence = [0.53, 0.47]", "prevalence = [0.53, 0.37]",
     ["strata[0].prevalence", "sum to 0.9"]),
    ("TOML syntax", "[study]", "[study", ["not valid TOML"]),
    ("unknown rule kind", 'kind = "pct_reduction", threshold = 75', 'kind = "pct_cut", threshold = 75',
     ["endpoints[0].rule"]),
    ("stratify by unknown stratum", '"PRIORBIO"]', '"PRIOR"]', ["analysis.stratify_by[2]", "'PRIOR'"]),
]


@pytest.mark.parametrize(("name", "old", "new", "expect"), CASES, ids=[c[0] for c in CASES])
def test_invalid_study_exit_2(tmp_path, capsys, name, old, new, expect):
    bad = _mutate(tmp_path, old, new)
    with pytest.raises(TrialkitError):
        load_study(bad)
    code = main(["validate-study", str(bad)])
    err = capsys.readouterr().err
    assert code == 2
    assert str(bad) in err.replace("\n", "")
    for fragment in expect:
        assert fragment in err.replace("\n", ""), (fragment, err)
    assert "Traceback" not in err


def test_cli_subprocess_no_traceback(tmp_path):
    bad = _mutate(tmp_path, "allocation = 3", "allocation = -1")
    r = subprocess.run([sys.executable, "-m", "trialkit", "run", str(bad), "--out", str(tmp_path / "o")],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 2
    assert "Traceback" not in r.stderr and "allocation" in r.stderr
    assert not (tmp_path / "o").exists()


def test_missing_file(capsys):
    assert main(["validate-study", "no/such/study.toml"]) == 2
    assert "file not found" in capsys.readouterr().err
