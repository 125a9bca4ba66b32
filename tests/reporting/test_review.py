"""``dataconv review EVAL_DIR`` in a real Chromium (Selenium, Debian's chromium-driver),
against the server running as its own process: the keys a reviewer presses, the
corrections file after every decision, undo and moving, resuming after a restart, a label
that is markup staying text, the token on every request, the 127.0.0.1 binding, a file
changed under the review, and a server killed with SIGKILL between two decisions."""
from __future__ import annotations

import json
import os
import signal
import socket

import pandas as pd
import pytest

from dataconv.fixtures.rendered_digits import make_rendered_digits
from dataconv.reporting.eval_page import suspected_label_errors
from dataconv.reporting.review import review_rows
from helpers import run_cli
from hostile_util import assert_one_line_error
from review_util import Page, Review, chromium, file_text, status_of, wait_for

SCRIPT = "<script>alert(1)</script>"
MARKUP = '<img src=x onerror="document.title=\'pwned\'">'


@pytest.fixture(scope="module")
def evaluated(tmp_path_factory) -> dict:
    """A rendered-digits dataset and an eval of it from a predictions file: six wrong rows,
    the first with a label that is a script tag, the sixth with a prediction that is markup."""
    root = tmp_path_factory.mktemp("review")
    src = str(root / "src")
    truth = make_rendered_digits(src, n=20, max_len=5, seed=3)["good"]
    ids = list(truth)
    labels = {**truth, ids[0]: SCRIPT, **{i: truth[i] + "9" for i in ids[1:5]}}
    with open(os.path.join(src, "gt.txt"), "w", encoding="utf-8") as f:
        f.writelines(f"{rel}\t{label}\n" for rel, label in labels.items())
    out = str(root / "out")
    run_cli("gt-txt", "-i", src, "--gt", os.path.join(src, "gt.txt"), "-o", out, "-q", "--workers", "1",
            "--split", "none")
    predictions = {**truth, ids[5]: MARKUP}
    with open(root / "preds.tsv", "w", encoding="utf-8") as f:
        f.writelines(f"{rel}\t{text}\t{0.99 - n / 100:.2f}\n" for n, (rel, text) in enumerate(predictions.items()))
    eval_dir = str(root / "eval")
    run_cli("eval", out, "--predictions", root / "preds.tsv", "--split", "train", "-o", eval_dir)
    return {"eval": eval_dir, "out": out, "ids": ids[:6], "truth": truth, "labels": labels, "root": str(root)}


@pytest.fixture(scope="module")
def driver():
    browser = chromium()
    yield browser
    browser.quit()


def line(sample_id: str, action: str, text: str | None = None) -> str:
    return "\t".join([sample_id, action, *([text] if text is not None else [])]) + "\n"


def test_keys_save_every_decision_at_once_and_a_restart_resumes(evaluated, driver, tmp_path):
    from selenium.webdriver.common.keys import Keys

    fixes = str(tmp_path / "fixes.tsv")
    ids, truth = evaluated["ids"], evaluated["truth"]
    with Review(evaluated["eval"], "--out", fixes) as review:
        page = Page(driver, review.url)
        assert page.progress() == "0 of 6 decided · row 1 of 6" and page.current() == 0
        assert [page.cell(r, "id") for r in range(6)] == ids  # most confident first, as eval.html ranks
        assert page.cell(0, "label") == SCRIPT and page.cell(5, "prediction") == MARKUP  # shown as text
        assert driver.execute_script("return document.querySelectorAll('tbody script, tbody td img[onerror]')"
                                     ".length") == 0
        assert driver.title == "dataconv review"

        expected = ""
        for keys, decided in ((["a"], line(ids[0], "relabel", truth[ids[0]])), (["k"], line(ids[1], "keep")),
                              (None, line(ids[2], "relabel", "777")), (["d"], line(ids[3], "drop"))):
            if keys is None:
                page.type_correction("777")
            else:
                page.press(*keys)
            expected += decided
            wait_for(lambda: file_text(fixes) == expected, f"{decided!r} in the file")
        wait_for(lambda: page.current() == 4, "the next row")
        assert page.cell(2, "decision") == "relabel → 777" and page.cell(3, "decision") == "drop"

        page.press("u")  # the drop is taken back, and its row is current again
        expected = expected.replace(line(ids[3], "drop"), "")
        wait_for(lambda: file_text(fixes) == expected, "the undone drop to leave the file")
        wait_for(lambda: page.current() == 3 and page.cell(3, "decision") == "", "row 4, undecided")
        page.press("p", "p", "n")
        wait_for(lambda: page.current() == 2, "moving up twice and down once")
        page.press(Keys.ARROW_DOWN, Keys.ARROW_DOWN, Keys.ARROW_UP)
        wait_for(lambda: page.current() == 3, "moving with the arrows")
        assert page.progress() == "3 of 6 decided · row 4 of 6"
        code, rest = review.stop()
        assert code == 0 and f"stopped: 3 of 6 rows decided, saved in {fixes}" in rest

    with Review(evaluated["eval"], "--out", fixes) as again:
        assert any("6 rows, 3 decided before" in said for said in again.lines)
        page = Page(driver, again.url)
        assert page.current() == 3 and page.status().startswith("resumed: 3 decided before")
        assert [page.cell(r, "decision") for r in range(4)] == [f"relabel → {truth[ids[0]]}", "keep",
                                                                "relabel → 777", ""]
        page.press("u")  # nothing of this session to undo: said, nothing changed
        wait_for(lambda: "nothing to undo" in page.status(), "the undo to be refused")
        page.press("a")
        wait_for(lambda: file_text(fixes) == expected + line(ids[3], "relabel", truth[ids[3]]), "row 4 accepted")
        page.press("a")  # the markup prediction is accepted as text, like any other
        wait_for(lambda: file_text(fixes).endswith(line(ids[4], "relabel", truth[ids[4]])), "row 5 accepted")


def test_a_server_killed_between_two_decisions_loses_nothing(evaluated, driver, tmp_path):
    fixes = str(tmp_path / "fixes.tsv")
    ids, truth = evaluated["ids"], evaluated["truth"]
    first, second = line(ids[0], "relabel", truth[ids[0]]), line(ids[1], "keep")
    with Review(evaluated["eval"], "--out", fixes) as review:
        page = Page(driver, review.url)
        page.press("a")
        wait_for(lambda: file_text(fixes) == first, "the first decision in the file")
        written = os.stat(fixes).st_ino
        page.press("k")
        wait_for(lambda: page.cell(1, "decision") == "keep", "the second decision shown as saved")
        assert os.stat(fixes).st_ino != written  # a new file renamed over the old, never rewritten in place
        review.process.send_signal(signal.SIGKILL)
        assert review.process.wait(timeout=30) == -signal.SIGKILL
        assert file_text(fixes) == first + second and os.listdir(tmp_path) == ["fixes.tsv"]

        page.press("d")  # the server is gone: the page says so, and shows nothing as saved
        wait_for(lambda: "not answering" in page.status(), "the page to say the server is gone")
        assert page.cell(2, "decision") == "" and file_text(fixes) == first + second

    with Review(evaluated["eval"], "--out", fixes) as again:
        page = Page(driver, again.url)
        assert page.current() == 2 and page.progress().startswith("2 of 6 decided")
        page.press("d")
        wait_for(lambda: file_text(fixes) == first + second + line(ids[2], "drop"), "the third decision")


def test_every_request_needs_the_token_and_only_127_0_0_1_answers(evaluated, driver, tmp_path):
    fixes = str(tmp_path / "fixes.tsv")
    with Review(evaluated["eval"], "--out", fixes) as review:
        token = review.url.split("?token=")[1]
        assert review.base.startswith("http://127.0.0.1:") and len(token) >= 40
        for path in ("/", "/review.js", "/review.css", "/api/state", "/image?row=0", "/nowhere"):
            joiner = "&" if "?" in path else "?"
            assert status_of(review.base + path) == 403
            assert status_of(f"{review.base}{path}{joiner}token={token[:-1]}") == 403
            assert status_of(f"{review.base}{path}{joiner}token={token}") == (404 if path == "/nowhere" else 200)
        decision = json.dumps({"row": 0, "action": "drop"}).encode()
        assert status_of(f"{review.base}/api/decide?token=x{token}", decision) == 403
        assert not os.path.exists(fixes)
        assert status_of(f"{review.base}/image?row=99&token={token}") == 404
        driver.get(review.base + "/")
        assert "forbidden" in driver.page_source and "<table" not in driver.page_source

        port = int(review.base.rsplit(":", 1)[1])
        with pytest.raises(OSError):  # bound to 127.0.0.1 only, not every address
            socket.create_connection(("127.0.0.2", port), timeout=5).close()

        # a file changed under the review is never overwritten
        assert status_of(f"{review.base}/api/decide?token={token}", decision) == 200
        with open(fixes, "a", encoding="utf-8") as f:
            f.write("someone\tkeep\n")
        assert status_of(f"{review.base}/api/decide?token={token}", json.dumps({"row": 1, "action": "keep"})
                         .encode()) == 409
        assert file_text(fixes) == line(evaluated["ids"][0], "drop") + "someone\tkeep\n"
        bad = [{"row": 0, "action": "burn"}, {"row": "0", "action": "keep"}, {"row": 0, "action": "relabel"},
               {"row": 0, "action": "relabel", "text": "two\nlines"}, [1]]
        for body in bad:
            assert status_of(f"{review.base}/api/decide?token={token}", json.dumps(body).encode()) in (400, 409)


def test_review_refuses_what_it_cannot_review(evaluated, tmp_path):
    eval_dir, out = evaluated["eval"], evaluated["out"]
    assert_one_line_error(run_cli("review", out, "--no-browser", expect=None), "not a dataconv eval output")
    other = str(tmp_path / "other")
    run_cli("gt-txt", "-i", os.path.join(evaluated["root"], "src"), "--gt",
            os.path.join(evaluated["root"], "src", "gt.txt"), "-o", other, "-q", "--workers", "1", "--seed", "1")
    assert_one_line_error(run_cli("review", eval_dir, "--data", other, "--no-browser", expect=None),
                          "not the dataset that was evaluated", "give --data")
    for target in (os.path.join(eval_dir, "eval.parquet"), os.path.join(out, "fixes.tsv")):
        refused = run_cli("review", eval_dir, "--out", target, "--no-browser", expect=2)
        assert "choose another" in refused.output
    broken = tmp_path / "broken.tsv"
    broken.write_text("x\tkeep\ny\tburn\n", encoding="utf-8")
    assert_one_line_error(run_cli("review", eval_dir, "--out", broken, "--no-browser", expect=None),
                          f"{broken}:2:", "got 'burn'")
    assert broken.read_text(encoding="utf-8") == "x\tkeep\ny\tburn\n"
    assert "--split" in run_cli("review", eval_dir, "--split", "val", "--no-browser", expect=2).output

    moved = tmp_path / "old_eval"
    os.makedirs(moved)
    with open(os.path.join(eval_dir, "manifest.json"), encoding="utf-8") as f:
        card = json.load(f)
    del card["options"]["data"]
    (moved / "manifest.json").write_text(json.dumps(card), encoding="utf-8")
    assert_one_line_error(run_cli("review", moved, "--no-browser", expect=None), "give --data DATA")
    (moved / "eval.parquet").write_bytes(b"PAR1 this is no parquet file")
    assert_one_line_error(run_cli("review", moved, "--data", out, "--no-browser", expect=None),
                          "eval.parquet: not an eval table")


def test_rows_are_ranked_as_eval_html_ranks_them_and_filtered(evaluated):
    frame = pd.read_parquet(os.path.join(evaluated["eval"], "eval.parquet"))
    ranked = suspected_label_errors(frame, 50)
    assert [r.key for r in review_rows(frame)] == list(ranked["key"])
    assert [r.key for r in review_rows(frame, top=2)] == list(ranked["key"][:2])
    assert [r.key for r in review_rows(frame, everything=True, top=2)] == list(ranked["key"])
    high = review_rows(frame, min_cer=1.0)
    assert high and all(r.cer >= 1.0 for r in high) and len(high) < len(ranked)
    assert review_rows(frame, split="test") == []
