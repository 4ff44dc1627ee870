from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from artannot.core.config import (
    SCHEMA,
    Config,
    ConfigError,
    config_path,
    load_config,
    save_config,
    write_default_config,
)


def test_defaults_when_missing(tmp_path: Path) -> None:
    cfg = load_config(tmp_path / "none.toml")
    assert cfg == Config()
    assert (cfg.autosave_seconds, cfg.save_on_navigate, cfg.text_fields, cfg.detector, cfg.device,
            cfg.suggestion_top_k, cfg.models_dir) == (30, True, (), "proposals", "auto", 10, "")
    with pytest.raises(dataclasses.FrozenInstanceError):
        cfg.device = "cpu"  # type: ignore[misc]


def test_schema_and_dataclass_agree() -> None:
    names = {f.name for f in dataclasses.fields(Config)} - {"path"}
    assert names == set(SCHEMA)
    for name, s in SCHEMA.items():
        default = getattr(Config(), name)
        assert (tuple(s.default) if isinstance(s.default, list) else s.default) == default


def test_env_var_and_default_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    p = tmp_path / "sub" / "config.toml"
    monkeypatch.setenv("ARTANNOT_CONFIG", str(p))
    assert config_path() == p
    assert write_default_config() == p
    assert load_config() == Config()  # the written file is all defaults, and valid
    with pytest.raises(ConfigError, match="exists"):
        write_default_config()
    p.write_text('autosave_seconds = 0\nsave_on_navigate = false\ntext_fields = ["title", "label"]\n'
                 'device = "cuda:1"\nsuggestion_top_k = 3\nmodels_dir = "~/weights"\n')
    cfg = load_config()
    assert (cfg.autosave_seconds, cfg.save_on_navigate, cfg.text_fields, cfg.device, cfg.suggestion_top_k) == \
           (0, False, ("title", "label"), "cuda:1", 3)
    assert cfg.path == p


def test_values_with_newlines_quotes_and_backslashes_round_trip(tmp_path: Path) -> None:
    """The old hand-written writer left a newline raw inside a basic string: invalid TOML."""
    p = tmp_path / "config.toml"
    cfg = Config(text_fields=('label "short"', "line one\nline two", "back\\slash"),
                 models_dir='C:\\Users\\"me"\nweights\t', detector="proposals", device="cpu",
                 autosave_seconds=0, save_on_navigate=False)
    assert save_config(cfg, p) == p
    again = load_config(p)
    assert again == cfg and again.path == p
    cfg2 = dataclasses.replace(cfg, suggestion_top_k=3)
    save_config(cfg2, p)
    assert load_config(p) == cfg2 and (tmp_path / "config.toml.bak").is_file()
    with pytest.raises(ConfigError, match="exists"):
        save_config(cfg, p, overwrite=False)
    with pytest.raises(ConfigError, match="autosave_seconds"):
        save_config(Config(autosave_seconds=-1), p)  # never writes a file load would refuse
    assert load_config(p) == cfg2


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("autosave_second = 5", "unknown setting 'autosave_second'; did you mean 'autosave_seconds'?"),
        ("colour = 'red'", "unknown setting 'colour'; known settings: autosave_seconds"),
        ("autosave_seconds = '5'", "setting 'autosave_seconds' must be an integer >= 0, got '5' (string)"),
        ("autosave_seconds = -1", "must be an integer >= 0, got -1"),
        ("autosave_seconds = true", "got True (boolean)"),
        ("save_on_navigate = 1", "setting 'save_on_navigate' must be true or false, got 1 (integer)"),
        ("text_fields = 'title'", "must be a list of non-empty strings"),
        ("text_fields = [1]", "must be a list of non-empty strings"),
        ("device = 'gpu'", "must be one of auto, cpu, cuda, cuda:N, mps"),
        ("suggestion_top_k = 0", "integer >= 1"),
        ("[window]\nwidth = 3", "unknown setting 'window'"),
        ("autosave_seconds = ", "not valid TOML"),
    ],
)
def test_bad_files_refused_clearly(tmp_path: Path, text: str, message: str) -> None:
    p = tmp_path / "config.toml"
    p.write_text(text + "\n")
    with pytest.raises(ConfigError) as info:
        load_config(p)
    assert message in str(info.value)
    assert str(p) in str(info.value) and info.value.code == "E801"


def test_models_dir_setting_is_the_model_managers_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from artannot.models import ModelManager

    p = tmp_path / "config.toml"
    p.write_text(f"models_dir = {str(tmp_path / 'weights')!r}\n", encoding="utf-8")
    monkeypatch.setenv("ARTANNOT_CONFIG", str(p))
    monkeypatch.delenv("ARTANNOT_MODELS_DIR", raising=False)
    assert ModelManager().models_dir == tmp_path / "weights"
    monkeypatch.setenv("ARTANNOT_MODELS_DIR", str(tmp_path / "env"))
    assert ModelManager().models_dir == tmp_path / "env"  # the environment wins
    assert ModelManager(tmp_path / "arg").models_dir == tmp_path / "arg"  # the argument more so
    monkeypatch.delenv("ARTANNOT_MODELS_DIR")
    p.write_text("models_dir = [\n", encoding="utf-8")  # broken: the default, no error
    assert ModelManager().models_dir.name == "models"


def test_detect_and_train_default_to_the_detector_and_device_settings(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import typer
    from typer.testing import CliRunner

    from artannot.cli import detect_cmd, train_cmd
    from artannot.core.errors import ArtannotError

    p = tmp_path / "config.toml"
    p.write_text('detector = "my-detector"\ndevice = "cuda:99"\n', encoding="utf-8")
    monkeypatch.setenv("ARTANNOT_CONFIG", str(p))
    seen = {}

    def fake_run_detect(path, **kw):
        seen.update(kw)
        raise ArtannotError("stop here")

    monkeypatch.setattr(detect_cmd, "run_detect", fake_run_detect)
    app = typer.Typer()
    detect_cmd.register(app)
    train_cmd.register(app)
    runner = CliRunner()
    r = runner.invoke(app, ["detect", str(tmp_path)])
    assert r.exit_code == 1 and (seen["detector"], seen["device"]) == ("my-detector", "cuda:99")
    r = runner.invoke(app, ["detect", str(tmp_path), "--detector", "proposals", "--device", "cpu"])
    assert (seen["detector"], seen["device"]) == ("proposals", "cpu")  # the options win

    r = runner.invoke(app, ["train", "synthetic:40", "--out", str(tmp_path / "run"), "--embed-size", "16",
                            "--word-dim", "8", "--num-epochs", "1", "--batch-size", "16",
                            "--text-encoder", "word", "--min-phrase-count", "1"])
    assert r.exit_code == 1 and "cuda:99" in r.output, r.output  # the setting's device was asked for
