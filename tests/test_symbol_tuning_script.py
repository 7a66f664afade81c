"""benchmarks/symbol_tuning.py on bad input: one line, exit 2, the results file untouched."""

from tests.plugins.scripts import load_script


def _script():
    return load_script("symbol_tuning")


def test_an_unreadable_results_file_or_a_missing_run_is_one_line_and_nothing_written(tmp_path, capsys):
    script = _script()
    out = tmp_path / "symbol_tuning.json"
    common = ["--model", "m", "--run", str(tmp_path / "no-run"), "--config", "c.yaml", "--out", str(out)]
    for text in ('{"models": ', "[1]"):
        out.write_text(text)
        assert script.main(common) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and "unreadable results file" in err
        assert out.read_text() == text
    out.write_text('{"models": {"other": {}}}')
    assert script.main(common) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "no-run" in err
    assert out.read_text() == '{"models": {"other": {}}}'
