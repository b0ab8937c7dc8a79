"""The scheme configuration is data with legal sources; a bad file fails loudly at start."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import pytest
from loket_contracts.scheme import SchemeError, load_scheme, parse_scheme

TEXT = resources.files("loket_contracts").joinpath("schemes", "pilot-2026.toml").read_text()


def test_the_pilot_scheme_loads_with_a_source_for_every_value() -> None:
    scheme = load_scheme("pilot-2026")
    assert scheme.version == "pilot-2026"
    assert scheme.state_aid.de_minimis_ceiling_eur.value == 300_000
    assert "2023/2831" in scheme.state_aid.de_minimis_ceiling_eur.source
    assert scheme.is_member_state("EL") and scheme.is_member_state("GR")
    assert not scheme.is_associated("KR")


@pytest.mark.parametrize(
    ("old", "new", "problem"),
    [
        (', source = "Regulation (EU) 2023/2831 Art. 3(2)" }', " }", "source"),  # no source
        ('"AT", "BE", ', '"BE", ', "not 27"),  # a member state missing
        ("gber_art28_intensity = { value = 0.5", "gber_art28_intensity = { value = 1.5", "(0, 1]"),
        ("hold_days = { value = 21", "hold_days = { value = 10", "hold_days must exceed"),
        ("quantum = { value = 1_000_000", "space = { value = 1_000_000", "unknown areas"),
        (
            "[call]",
            '[call]\nsurprise = { value = 1, source = "somewhere else" }',
            "surprise",
        ),  # unknown keys are refused, not ignored
        ('"NO", ', '"norway", ', "alpha-2"),
    ],
)
def test_a_bad_configuration_is_refused_with_the_problem_named(
    old: str, new: str, problem: str
) -> None:
    assert old in TEXT
    with pytest.raises(
        SchemeError,
        match=problem.replace("(", r"\(")
        .replace(")", r"\)")
        .replace("[", r"\[")
        .replace("]", r"\]"),
    ):
        parse_scheme(TEXT.replace(old, new, 1), "bad.toml")


def test_a_service_does_not_start_on_a_bad_scheme_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from loket_eligibility.entrypoints.handlers import register
    from loket_messaging import ServiceRuntime

    from tests.settings import local_settings

    bad = tmp_path / "pilot-2026.toml"
    bad.write_text(
        TEXT.replace(
            "de_minimis_ceiling_eur = { value = 300_000", "de_minimis_ceiling_eur = { value = -1"
        )
    )
    monkeypatch.setenv("LOKET_SCHEME_FILE", str(bad))
    load_scheme.cache_clear()
    try:
        runtime = ServiceRuntime(local_settings(tmp_path, "eligibility"))
        with pytest.raises(SchemeError, match="de_minimis_ceiling_eur must be positive"):
            register(runtime)
    finally:
        load_scheme.cache_clear()
