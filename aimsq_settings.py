"""Every `AIMSQ_*` environment variable, read here and nowhere else.

The bottom of the layers (docs/architecture.md): every package may import
this module, and it imports nothing of the project. Each setting is a
function that reads the environment when called, so a process (or a test)
that changes a variable sees the change; an empty variable counts as unset.
A value a setting cannot use raises SettingError naming the variable.

Precedence, where a setting has a command-line option or an app-config key:
the option (`--db`, `--model`) or the key given to `create_app` wins, then
the variable, then the default. README.md ("Settings") lists them all;
tests/test_docs.py keeps the two in step.
"""
from __future__ import annotations

import os
from collections.abc import Callable, Mapping

# name -> the first line of its reader's docstring (what README.md documents).
SETTINGS: dict[str, str] = {}
# Keys of the web app's config that have no environment variable: objects
# and switches that only code passes to `create_app` (tests).
APP_CONFIG_ONLY: dict[str, str] = {
    "AIMSQ_EMBEDDER": "an embedder object for the app's matcher (tests inject a fake); default the bundled model",
    "AIMSQ_AUTOFILL_INLINE": "propose answers inside the request instead of on a background thread (tests)",
}

DEFAULT_CLI_DB = "instance/aimsq.db"
DEFAULT_REVIEW_PAGE_SIZE = 100


class SettingError(ValueError):
    """An AIMSQ_* variable holds a value its setting cannot use."""


def _setting(name: str) -> Callable[[Callable], Callable]:
    def register(reader: Callable) -> Callable:
        SETTINGS[name] = (reader.__doc__ or "").strip().splitlines()[0]
        return reader

    return register


def _raw(name: str, environ: Mapping[str, str] | None) -> str | None:
    value = (os.environ if environ is None else environ).get(name)
    return value or None


def _whole_number(name: str, environ: Mapping[str, str] | None, default: int, minimum: int) -> int:
    value = _raw(name, environ)
    if value is None:
        return default
    try:
        number = int(value.strip())
    except ValueError:
        number = None
    if number is None or number < minimum:
        raise SettingError(f"{name} must be a whole number of at least {minimum}, not {value!r}")
    return number


@_setting("AIMSQ_DB")
def db_path(environ: Mapping[str, str] | None = None) -> str | None:
    """The bank database file; default instance/aimsq.db (from the working directory for the CLI, in the instance folder for the web app)."""
    return _raw("AIMSQ_DB", environ)


@_setting("AIMSQ_MODEL")
def model_path(environ: Mapping[str, str] | None = None) -> str | None:
    """A local sentence-transformers model directory instead of the bundled all-MiniLM-L6-v2."""
    return _raw("AIMSQ_MODEL", environ)


@_setting("AIMSQ_ENCODER")
def encoder(environ: Mapping[str, str] | None = None) -> str:
    """`auto` (default): BERT models with mean pooling run in NumPy; `torch`: always sentence-transformers."""
    return _raw("AIMSQ_ENCODER", environ) or "auto"


@_setting("AIMSQ_BANK_ADAPTER")
def bank_adapter(environ: Mapping[str, str] | None = None) -> bool:
    """`on` (default): matching uses a map of the model's space fitted on the bank's own wordings and answers; `off`: the model's space as it is."""
    value = (_raw("AIMSQ_BANK_ADAPTER", environ) or "on").strip().lower()
    if value not in ("on", "off"):
        raise SettingError(f"AIMSQ_BANK_ADAPTER must be on or off, not {value!r}")
    return value == "on"


@_setting("AIMSQ_CACHE_DIR")
def cache_dir(environ: Mapping[str, str] | None = None) -> str:
    """Where the digests of large model files are kept; default $XDG_CACHE_HOME/aimsq, else ~/.cache/aimsq."""
    # Nothing breaks when it cannot be written: the model's files are then hashed on every start.
    xdg = _raw("XDG_CACHE_HOME", environ) or os.path.join(os.path.expanduser("~"), ".cache")
    return _raw("AIMSQ_CACHE_DIR", environ) or os.path.join(xdg, "aimsq")


@_setting("AIMSQ_USER")
def audit_user(environ: Mapping[str, str] | None = None) -> str:
    """The name the audit trail records for changes made with the CLI; default $USER, else `cli`."""
    return _raw("AIMSQ_USER", environ) or _raw("USER", environ) or "cli"


@_setting("AIMSQ_DEBUG")
def debug(environ: Mapping[str, str] | None = None) -> bool:
    """Any value: the CLI shows the traceback of an unexpected error instead of one line."""
    return _raw("AIMSQ_DEBUG", environ) is not None


@_setting("AIMSQ_MAX_UPLOAD_MB")
def max_upload_bytes(environ: Mapping[str, str] | None = None) -> int | None:
    """The largest questionnaire the CLI and the web app accept, in MB; default 50 (ingest.guard.Limits)."""
    # A value that is no number ("abc", "nan", "inf") counts as unset: the default applies.
    value = _raw("AIMSQ_MAX_UPLOAD_MB", environ)
    if value is None:
        return None
    try:
        return int(float(value) * 1024 * 1024)
    except (ValueError, OverflowError):
        return None


@_setting("AIMSQ_SECRET_KEY")
def secret_key(environ: Mapping[str, str] | None = None) -> str | None:
    """Signs the web session cookie; default a random key kept in `secret_key` beside the database."""
    return _raw("AIMSQ_SECRET_KEY", environ)


@_setting("AIMSQ_FILES_DIR")
def files_dir(environ: Mapping[str, str] | None = None) -> str | None:
    """Where the web app keeps uploaded and exported files; default `files/` beside the database."""
    return _raw("AIMSQ_FILES_DIR", environ)


@_setting("AIMSQ_REVIEW_PAGE_SIZE")
def review_page_size(environ: Mapping[str, str] | None = None) -> int:
    """Questions per review page; default 100 (a page shows 10 to 500)."""
    return _whole_number("AIMSQ_REVIEW_PAGE_SIZE", environ, DEFAULT_REVIEW_PAGE_SIZE, minimum=1)


@_setting("AIMSQ_PROXY_COUNT")
def proxy_count(environ: Mapping[str, str] | None = None) -> int:
    """Reverse proxies in front of the web app whose X-Forwarded-* headers are trusted; default 0."""
    return _whole_number("AIMSQ_PROXY_COUNT", environ, 0, minimum=0)
