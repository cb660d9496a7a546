"""The base class of the answer bank's errors: each one names the problem and
what to do, and the CLI and the web app show it as one line (never a traceback)."""
from __future__ import annotations


class BankError(Exception):
    """Base class for errors a user can act on."""
