"""``dataconv review EVAL_DIR``: the suspected label errors of an eval in a local web page,
one decision per key press, each saved at once to a corrections file that a conversion's
``--corrections`` reads (the session: ``dataconv.reporting.review``; the server:
``dataconv.reporting.review_server``)."""
from __future__ import annotations

import contextlib
import html
import os
import secrets
import shutil
import signal
import tempfile
import webbrowser
from typing import Any, Iterator

import click

from dataconv.build.interrupts import SIGNALS
from dataconv.cli.options import Number, input_paths
from dataconv.errors import DataconvError
from dataconv.io.dataset_reader import SPLITS
from dataconv.outputs import atomic, manifest

DEFAULT_OUT = "corrections.tsv"


@click.command("review", help="Review the suspected label errors of an eval in your browser: each row "
               "shows the image, the label, the prediction, its CER and confidence; keys accept the "
               "prediction (a), keep the label (k), type a correction (t), drop the sample (d), undo (u), "
               "move (n/p or the arrows). Every decision is saved at once to a corrections file "
               "(SAMPLE_ID<TAB>relabel<TAB>TEXT, ...<TAB>drop, ...<TAB>keep); reopening resumes. "
               "Rebuild with it: dataconv <format> ... --corrections FILE.\n\n"
               "The page is served on 127.0.0.1 only, behind a random token in its URL.\n\n"
               "Example: dataconv review eval_digits")
@click.argument("eval_dir", type=click.Path(exists=True, file_okay=False))
@click.option("--data", type=click.Path(exists=True, file_okay=False),
              help="The dataset EVAL_DIR was evaluated on [default: the one its manifest.json names].")
@click.option("--out", type=click.Path(dir_okay=False),
              help=f"Corrections file to write, and to resume from if it exists [default: EVAL_DIR/{DEFAULT_OUT}].")
@click.option("--all", "everything", is_flag=True, help="Every wrong row, not only the --top most suspected.")
@click.option("--top", type=click.IntRange(min=1), default=50, show_default=True,
              help="How many of the most suspected rows (eval.html's ranking).")
@click.option("--split", type=click.Choice(SPLITS), help="Only rows of this split.")
@click.option("--min-cer", type=Number(float, 0.0), help="Only rows with at least this CER.")
@click.option("--port", type=click.IntRange(0, 65535), default=0, help="Port on 127.0.0.1 [default: a free one].")
@click.option("--no-browser", is_flag=True, help="Print the URL only; do not open a browser.")
def review_command(eval_dir: str, data: str | None, out: str | None, everything: bool, top: int,
                   split: str | None, min_cer: float | None, port: int, no_browser: bool) -> None:
    from dataconv.export.evaluate import EVAL_PAGE, EVAL_TABLE
    from dataconv.reporting.review import DatasetImages, Session, read_eval_table, review_rows
    from dataconv.reporting import review_server

    card = manifest.read(eval_dir)
    if card.get("format") != "eval":
        raise DataconvError(f"{eval_dir}: not a dataconv eval output (its manifest.json is not eval's)")
    data = data or _evaluated_dataset(eval_dir, card)
    out = out or os.path.join(eval_dir, DEFAULT_OUT)
    inputs = [*input_paths(click.get_current_context(), exclude={"out"}), ("the evaluated dataset", data)]
    atomic.check_file_target(out, inputs, home=eval_dir)
    if os.path.basename(out) in (EVAL_TABLE, EVAL_PAGE) and \
            os.path.realpath(os.path.dirname(os.path.abspath(out))) == os.path.realpath(eval_dir):
        raise click.UsageError(f"{out} is one of the eval's own files; choose another --out")
    rows = review_rows(read_eval_table(os.path.join(eval_dir, EVAL_TABLE)), everything, split, min_cer, top)
    if not rows:
        if split is not None or min_cer is not None:
            raise click.UsageError("no wrong row of the eval matches --split/--min-cer")
        click.echo(f"nothing to review: every prediction in {eval_dir} matches its label")
        return
    session = Session.open(rows, out)
    server = review_server.ReviewServer(port, secrets.token_urlsafe(32), session, DatasetImages(data, rows),
                                        review_server.Jobs())
    _announce(server.url, len(rows), session.decided(), out, card)
    opened = None if no_browser else _open_browser(server.url)
    try:
        with _stopped_by_signals():
            review_server.serve(server)
    except _Stop:
        click.echo(f"stopped: {session.decided()} of {len(rows)} rows decided, saved in {out}; rebuild with "
                   f"--corrections {out}")
    finally:
        if opened:
            shutil.rmtree(opened, ignore_errors=True)


class _Stop(BaseException):
    """A stop signal: how a review ends (exit 0), not a failure."""


@contextlib.contextmanager
def _stopped_by_signals() -> Iterator[None]:
    """Ctrl-C, SIGTERM or SIGHUP raise ``_Stop`` in the main thread, where the session
    writes: a decision being saved is either in the file or not (the write is a rename).
    A second signal ends the process at once."""
    def stop(signum: int, frame: Any) -> None:
        for s in SIGNALS:
            signal.signal(s, signal.SIG_DFL)
        raise _Stop(signum)

    previous = {s: signal.signal(s, stop) for s in SIGNALS}
    try:
        yield
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)


def _evaluated_dataset(eval_dir: str, card: dict[str, Any]) -> str:
    """The dataset eval recorded (relative to EVAL_DIR), or a one-line error asking for --data."""
    recorded = (card.get("options") or {}).get("data")
    if not isinstance(recorded, str):
        raise DataconvError(f"{eval_dir}: its manifest.json does not name the evaluated dataset (an eval made "
                            "before dataconv review existed); give --data DATA")
    data = os.path.normpath(os.path.join(eval_dir, recorded))
    if not os.path.isdir(data):
        raise DataconvError(f"{eval_dir}: the evaluated dataset {data} is not there any more; give --data DATA")
    return data


def _announce(url: str, rows: int, decided: int, out: str, card: dict[str, Any]) -> None:
    trainer = (card.get("options") or {}).get("as")
    if trainer:
        click.echo(f"note: the eval compared as {trainer} does: labels and predictions are shown, and "
                   "accepted, after its label handling")
    click.echo(f"review: {rows} rows, {decided} decided before; decisions are saved to {out} as you make them")
    click.echo(f"open {url}")
    click.echo("Ctrl-C stops the review (nothing decided is lost)", err=True)


def _open_browser(url: str) -> str | None:
    """Open ``url`` through a page only this user can read, so that the token never
    appears in a browser's command line (which other users can list); the folder holding
    it, to remove when the review stops."""
    folder = tempfile.mkdtemp(prefix="dataconv-review-")
    page = os.path.join(folder, "open.html")
    with open(page, "w", encoding="utf-8") as f:
        f.write(f'<!doctype html><meta http-equiv="refresh" content="0;url={html.escape(url)}">')
    if not webbrowser.open("file://" + page):
        click.echo("no browser found: open the URL above", err=True)
    return folder


COMMANDS = [review_command]
