import pytest

from secmlops_core.settings import SettingsError, load_settings


def test_defaults_and_env_override(tmp_path):
    settings = load_settings({"SECMLOPS_HOME": str(tmp_path), "SECMLOPS_MAX_PIPELINE_FILE_MB": "2.5",
                              "SECMLOPS_SAMPLE_FEED": "off"})
    assert settings.home == tmp_path.resolve()
    assert settings.max_pipeline_file_mb == 2.5
    assert settings.sample_feed is False
    assert settings.store_path == tmp_path.resolve() / "secmlops.duckdb"


def test_config_file_then_env_wins(tmp_path):
    (tmp_path / "config.toml").write_text('wall_refresh_seconds = 9\ndefault_weights = "coco"\n')
    settings = load_settings({"SECMLOPS_HOME": str(tmp_path), "SECMLOPS_WALL_REFRESH_SECONDS": "3"})
    assert settings.wall_refresh_seconds == 3
    assert settings.default_weights == "coco"


def test_every_problem_is_reported(tmp_path):
    (tmp_path / "config.toml").write_text('colour = "red"\n')
    with pytest.raises(SettingsError) as caught:
        load_settings({"SECMLOPS_HOME": str(tmp_path), "SECMLOPS_SAMPLE_FEED": "perhaps",
                       "SECMLOPS_WALL_REFRESH_SECONDS": "0"})
    problems = "\n".join(caught.value.problems)
    assert "unknown setting 'colour'" in problems
    assert "SECMLOPS_SAMPLE_FEED" in problems
    assert "wall_refresh_seconds" in problems
    assert len(caught.value.problems) == 3


def test_broken_config_file_is_a_clear_error(tmp_path):
    (tmp_path / "config.toml").write_text("this is = = not toml")
    with pytest.raises(SettingsError, match="config file"):
        load_settings({"SECMLOPS_HOME": str(tmp_path)})


def test_missing_explicit_config_file(tmp_path):
    with pytest.raises(SettingsError, match="does not exist"):
        load_settings({"SECMLOPS_HOME": str(tmp_path), "SECMLOPS_CONFIG": str(tmp_path / "nope.toml")})
