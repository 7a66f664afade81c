"""The experiment report: Markdown tables, and HTML that renders with its images in Chromium."""

import json
import shutil
import subprocess

import pytest

from taskmix.evaluation.results import EvalRun, Prediction, write_run
from taskmix.records import Score
from taskmix.report import ReportInput, write_report
from taskmix.report.render import SelectionRow


def _run(folder, model, correct_per_setting):
    preds, scores = [], []
    for setting, outcomes in correct_per_setting.items():
        for task in ("subj", "ade"):
            for i, ok in enumerate(outcomes):
                preds.append(Prediction(task=task, setting=setting, example_uid=str(i), correct=bool(ok), answer=0, prediction=0 if ok else 1))
            c = sum(outcomes)
            scores.append(Score(task, setting, len(outcomes), c, c / len(outcomes), max(0.0, c / len(outcomes) - 0.2), min(1.0, c / len(outcomes) + 0.2)))
    avgs = tuple(Score("average", st, 2 * len(o), 2 * sum(o), sum(o) / len(o), 0.0, 1.0) for st, o in correct_per_setting.items())
    run = EvalRun(run_key=model, config={"k": 4}, model=model, fingerprint=model, scores=tuple(scores), averages=avgs, predictions=tuple(preds))
    write_run(folder, run, plots=False)
    return folder


def _report(tmp_path):
    base = _run(tmp_path / "base", "base", {"noinstr_symbols": [1, 0, 0, 0, 1, 0, 0, 0], "flipped": [0, 0, 1, 0, 0, 0, 0, 0]})
    tuned = _run(tmp_path / "tuned", "tuned", {"noinstr_symbols": [1, 1, 1, 0, 1, 1, 1, 0], "flipped": [1, 0, 1, 1, 0, 1, 0, 1]})
    loss = tmp_path / "train" / "loss.jsonl"
    loss.parent.mkdir()
    loss.write_text("".join(json.dumps({"step": s, "loss": 3.0 / s}) + "\n" for s in range(1, 30)))
    rep = ReportInput(
        title="Symbol tuning: smoke",
        run_dir=tmp_path,
        config_yaml="model: smollm2-135m\nseed: 0\n",
        versions=(("taskmix", "0.1.0"),),
        evals=(("base", base), ("tuned", tuned)),
        loss_log=loss,
        selection_target="subj",
        selection=(SelectionRow(1, "sst2", 0.71, "sentiment", "sst2"), SelectionRow(2, "mr", 0.66, "sentiment", "mr")),
        stages=(("select", 1.0, False), ("train", 10.0, True)),
    )
    return write_report(rep, tmp_path / "report")


def test_markdown_report_has_every_section(tmp_path):
    md, html = _report(tmp_path)
    text = md.read_text()
    for needle in ("# Symbol tuning: smoke", "## Accuracy per setting", "| noinstr_symbols |", "tuned - base (pp)",
                   "## Training", "## Selected tasks", "| 1 | sst2 | 0.7100 |", "## Config", "model: smollm2-135m",
                   "![training loss](report_loss.png)"):
        assert needle in text, needle
    # tuned minus base on noinstr_symbols: 6/8 - 2/8 = +50.0 points
    assert "+50.0 [" in text
    for png in ("report_loss.png", "report_accuracy_by_setting.png", "report_accuracy_by_dataset.png"):
        assert (md.parent / png).stat().st_size > 1000
    page = html.read_text()
    assert page.count("data:image/png;base64,") == 3 and "http://" not in page and "https://" not in page


@pytest.mark.skipif(shutil.which("chromium") is None, reason="Debian's chromium is not installed (.ci/run installs it)")
def test_html_report_renders_with_images_in_chromium(tmp_path):
    from PIL import Image

    _, html = _report(tmp_path)
    shot = tmp_path / "shot.png"
    cmd = ["chromium", "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
           "--disable-background-networking", "--disable-component-update", "--disable-sync",
           f"--user-data-dir={tmp_path / 'profile'}", "--hide-scrollbars", "--window-size=1100,2600",
           f"--screenshot={shot}", html.as_uri()]
    subprocess.run(cmd, check=True, capture_output=True, timeout=120)
    img = Image.open(shot).convert("RGB")
    # the bars and the loss curve are drawn in #4C72B0 and #DD8452: count those pixels
    pixels = list(img.get_flattened_data()) if hasattr(img, "get_flattened_data") else list(img.getdata())
    blue = sum(1 for r, g, b in pixels if abs(r - 0x4C) < 12 and abs(g - 0x72) < 12 and abs(b - 0xB0) < 12)
    orange = sum(1 for r, g, b in pixels if abs(r - 0xDD) < 12 and abs(g - 0x84) < 12 and abs(b - 0x52) < 12)
    assert blue > 2000 and orange > 1000, (blue, orange)
