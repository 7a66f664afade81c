"""The experiment report: Markdown tables, and HTML that renders with its images in Chromium."""

import json
import shutil
import subprocess

import pytest

from taskmix.evaluation.results import EvalRun, Prediction, write_run
from taskmix.records import Score
from taskmix.report import ReportInput, write_report
from taskmix.report.render import SelectionRow


def _run(folder, model, correct_per_setting, config=None):
    preds, scores = [], []
    for setting, outcomes in correct_per_setting.items():
        for task in ("subj", "ade"):
            for i, ok in enumerate(outcomes):
                preds.append(Prediction(task=task, setting=setting, example_uid=str(i), correct=bool(ok), answer=0, prediction=0 if ok else 1))
            c = sum(outcomes)
            scores.append(Score(task, setting, len(outcomes), c, c / len(outcomes), max(0.0, c / len(outcomes) - 0.2), min(1.0, c / len(outcomes) + 0.2)))
    avgs = tuple(Score("average", st, 2 * len(o), 2 * sum(o), sum(o) / len(o), 0.0, 1.0) for st, o in correct_per_setting.items())
    run = EvalRun(run_key=model, config=config or {"k": 4}, model=model, fingerprint=model, scores=tuple(scores), averages=avgs, predictions=tuple(preds))
    write_run(folder, run, plots=False)
    return folder


def _report(tmp_path, **kw):
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
        **kw,
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


def test_report_says_first_what_changed_and_shows_what_accuracy_can_hide(tmp_path):
    md, html = _report(tmp_path, display_names={"subj": "SUBJ", "ade": "ADEC"})
    lines = md.read_text().splitlines()
    assert lines[2] == "## What changed"
    # noinstr_symbols: 2/8 -> 6/8 on both datasets; flipped: 1/8 -> 5/8
    assert lines[4].startswith("- noinstr_symbols (mean over 2 datasets): tuned - base = +50.0 pp accuracy "
                               "(25.0 -> 75.0), 95% interval [")
    assert "excludes 0 (tuned better); balanced accuracy +50.0 pp" in lines[4]
    assert lines[5].startswith("- flipped (mean over 2 datasets): tuned - base = +50.0 pp accuracy (12.5 -> 62.5)")
    # base answers 1 to 7 of 8 flipped queries: flagged in words and in its cells
    assert lines[6].startswith("- base: 2 of 4 dataset x setting cells give one answer to more than 80%")
    text = md.read_text()
    assert "Random-guess baseline: 50.0% on average over 2 classification datasets." in text
    assert "| SUBJ | 50.0 | 12.5 [0.0, 32.5], bal. 12.5 \u26a0 88% one answer | 62.5 [" in text
    assert "| setting | random | base | tuned | tuned - base (pp) | bal. tuned - base (pp) |" in text
    page = html.read_text()
    assert page.index("What changed") < page.index("Run folder") and "88% one answer" in page


def test_report_of_runs_shown_different_prompts_says_so_instead_of_failing(tmp_path):
    base = _run(tmp_path / "base", "base", {"flipped": [0, 0, 1, 0]})
    other = _run(tmp_path / "other", "other", {"flipped": [1, 1, 1, 0]}, config={"k": 8})
    md, _ = write_report(ReportInput("t", tmp_path, "x: 1\n", evals=(("base", base), ("other", other))), tmp_path / "r")
    assert "- other vs base: not compared (the runs were shown different prompts (k: 4 vs 8)" in md.read_text()


def test_plots_draw_the_random_guess_line():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from taskmix.evaluation.plots import draw_chance
    from taskmix.report import plots

    fig, ax = plt.subplots()
    assert draw_chance(ax, [0.5, None, 1 / 3])
    ys = [seg[0][1] for c in ax.collections for seg in c.get_segments()]
    assert ys == pytest.approx([50.0, 100 / 3])
    assert [h.get_label() for h in ax.get_legend_handles_labels()[0]] == ["random guess"]
    plt.close(fig)
    assert not draw_chance(plt.subplots()[1], [None])
    scores = {"base": [Score("average", "flipped", 8, 4, 0.5, 0.3, 0.7)]}
    assert plots.accuracy_by_setting(scores, {"flipped": 0.5}) != plots.accuracy_by_setting(scores)
