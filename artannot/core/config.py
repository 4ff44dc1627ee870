"""User settings: one human-readable TOML file, checked against a schema of known keys.

The file is ``platformdirs.user_config_dir("artannot")/config.toml``, or the path in the
``ARTANNOT_CONFIG`` environment variable.  A missing file means all defaults; a key the
schema does not know, or a value of the wrong type, is refused with a message naming the key
and the file (and the closest known key, for typos).  Window layout lives in QSettings.
"""

from __future__ import annotations

import difflib
import os
import re
import tomllib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import platformdirs
import tomli_w

from artannot.core.errors import ArtannotError
from artannot.core.safe_io import atomic_write

ENV_VAR = "ARTANNOT_CONFIG"
_DEVICE_RE = re.compile(r"^(auto|cpu|mps|cuda(:\d+)?)$")


class ConfigError(ArtannotError):
    """The settings file is not valid TOML, or has an unknown key or a wrong value."""

    code = "E801"


@dataclass(frozen=True, slots=True)
class Setting:
    type: type
    default: Any
    help: str
    check: Callable[[Any], bool] = lambda v: True
    rule: str = ""  # what ``check`` wants, for messages


SCHEMA: dict[str, Setting] = {
    "autosave_seconds": Setting(int, 30, "Save edits after this many idle seconds (0: never autosave).",
                                lambda v: v >= 0, "an integer >= 0"),
    "save_on_navigate": Setting(bool, True, "Save when moving to another artwork."),
    "text_fields": Setting(list, [], "Metadata keys that feed phrase extraction ([] = title/description-like).",
                           lambda v: all(isinstance(x, str) and x for x in v), "a list of non-empty strings"),
    "detector": Setting(str, "proposals", "Region detector to use (see `artannot detect --help`).",
                        lambda v: bool(v.strip()), "a non-empty string"),
    "device": Setting(str, "auto", "Where models run: auto, cpu, cuda, cuda:N or mps.",
                      lambda v: bool(_DEVICE_RE.match(v)), "one of auto, cpu, cuda, cuda:N, mps"),
    "suggestion_top_k": Setting(int, 10, "How many phrase suggestions to show per region.",
                                lambda v: v >= 1, "an integer >= 1"),
    "models_dir": Setting(str, "", "Folder of imported model weights (empty: the default user folder)."),
}

_TYPE_NAMES = {int: "an integer", bool: "true or false", str: "a string", list: "a list"}


@dataclass(frozen=True, slots=True)
class Config:
    """Validated settings (immutable: change the file, then load again)."""

    autosave_seconds: int = 30
    save_on_navigate: bool = True
    text_fields: tuple[str, ...] = ()
    detector: str = "proposals"
    device: str = "auto"
    suggestion_top_k: int = 10
    models_dir: str = ""
    path: Path | None = field(default=None, compare=False)  # the file it came from, if any


def config_path() -> Path:
    """``$ARTANNOT_CONFIG`` or the per-user config folder's ``config.toml``."""
    override = os.environ.get(ENV_VAR)
    if override:
        return Path(override).expanduser()
    return Path(platformdirs.user_config_dir("artannot")) / "config.toml"


def _type_ok(value: Any, kind: type) -> bool:
    if kind is int:
        return isinstance(value, int) and not isinstance(value, bool)
    return isinstance(value, kind)


def _describe(value: Any) -> str:
    names = {bool: "boolean", int: "integer", float: "float", str: "string", list: "list", dict: "table"}
    return f"{value!r} ({names.get(type(value), type(value).__name__)})"


def validate(data: dict[str, Any], path: Path | str = "<config>") -> Config:
    """A :class:`Config` from parsed TOML, or :class:`ConfigError` for the first problem."""
    values: dict[str, Any] = {}
    for key, value in data.items():
        setting = SCHEMA.get(key)
        if setting is None:
            close = difflib.get_close_matches(key, SCHEMA, n=1)
            hint = f"; did you mean {close[0]!r}?" if close else f"; known settings: {', '.join(SCHEMA)}"
            raise ConfigError(f"unknown setting {key!r}{hint}", path)
        if not _type_ok(value, setting.type) or not setting.check(value):
            want = setting.rule or _TYPE_NAMES[setting.type]
            raise ConfigError(f"setting {key!r} must be {want}, got {_describe(value)}", path)
        values[key] = tuple(value) if setting.type is list else value
    return Config(**values, path=Path(path) if not str(path).startswith("<") else None)


def load_config(path: Path | str | None = None) -> Config:
    """Settings from ``path`` (default :func:`config_path`); defaults when the file is missing."""
    path = Path(path) if path is not None else config_path()
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except FileNotFoundError:
        return Config()
    except OSError as exc:
        raise ConfigError(f"cannot read settings: {exc.strerror or exc}", path) from exc
    except UnicodeDecodeError as exc:
        raise ConfigError(f"settings file is not UTF-8 text: {exc}", path) from exc
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"not valid TOML: {exc}", path) from exc
    return validate(data, path)


def config_text(config: Config | None = None) -> str:
    """The settings file for ``config`` (default: every setting at its default), each setting
    under its help as a comment. Values are written by ``tomli_w``: any string round-trips."""
    config = config or Config()
    lines = ["# artannot settings. Unknown keys are refused; delete a line to get its default.", ""]
    for name, s in SCHEMA.items():
        value = getattr(config, name)
        value = list(value) if isinstance(value, tuple) else value
        lines += [f"# {s.help}", tomli_w.dumps({name: value}).rstrip("\n"), ""]
    return "\n".join(lines)


def save_config(config: Config, path: Path | str | None = None, *, overwrite: bool = True) -> Path:
    """Write ``config`` to ``path`` (default :func:`config_path`), the old file kept as
    ``config.toml.bak``; refuses values that :func:`load_config` would refuse, and an existing
    file unless ``overwrite``."""
    path = Path(path) if path is not None else config_path()
    values = {name: getattr(config, name) for name in SCHEMA}
    validate({k: list(v) if isinstance(v, tuple) else v for k, v in values.items()}, path)
    if path.exists() and not overwrite:
        raise ConfigError("settings file exists; not overwriting it", path)
    atomic_write(path, config_text(config).encode("utf-8"), backup=True)
    return path


def write_default_config(path: Path | str | None = None, *, overwrite: bool = False) -> Path:
    """Write a commented file with every setting at its default; refuses to replace an existing
    file unless ``overwrite`` (the old one is then kept as ``config.toml.bak``)."""
    return save_config(Config(), path, overwrite=overwrite)
