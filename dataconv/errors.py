"""The two ways bad input is reported: a whole-run error, or one sample's rejection."""
from __future__ import annotations

from dataconv.reasons import known


class DataconvError(Exception):
    """Input the user must fix (unreadable or schema-violating annotation file, nothing usable).

    The CLI prints the message as one line, naming the file and line or JSON path,
    and exits 1. Never raised for a single bad sample: that is a rejection.
    """


# How a user replaces an existing output: every command's option, a recipe's key.
REPLACE_HINT = "pass --overwrite to replace it (in a recipe: overwrite: true)"


class UsageError(Exception):
    """A command line that asks for something impossible or selects nothing (an output
    that is an input, ``--group-by`` a missing attribute, ``--kind`` matching no
    annotation). The CLI reports it as click reports its own usage errors: exit 2."""


class SampleRejected(Exception):
    """Raised inside per-sample processing; the pipeline turns it into a rejects.jsonl row.
    ``reason`` must be registered in ``dataconv.reasons``."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = known(reason)
        self.detail = detail

    def __reduce__(self) -> tuple[type, tuple[str, str]]:
        """Pickled as its reason and detail (a page's regions carry rejections to workers)."""
        return SampleRejected, (self.reason, self.detail)
