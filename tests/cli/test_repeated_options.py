"""A single-valued option given twice is a usage error naming it, for every command and
every such option (the command tree is walked, not listed by hand); repeatable options
and flags still repeat."""
from __future__ import annotations

import click
from click.testing import CliRunner

from dataconv.cli.main import cli


def single_valued(command: click.Command) -> list[click.Option]:
    return [p for p in command.params if isinstance(p, click.Option)
            and not (p.multiple or p.count or p.is_flag) and p.name != "help"]


def test_every_single_valued_option_of_every_command_refuses_a_repeat():
    runner = CliRunner()
    checked = 0
    for name in cli.commands:
        command = cli.commands[name]
        for option in single_valued(command):
            flag = option.opts[-1]
            result = runner.invoke(cli, [name, flag, "1", flag, "2"])
            assert result.exit_code == 2, (name, flag, result.output)
            assert f"option {' / '.join(option.opts)} given more than once" in result.output, (name, flag)
            assert "Traceback" not in result.output
            checked += 1
    assert checked > 300  # every conversion's switches and every command's


def test_input_twice_points_at_also_input(tmp_path):
    result = CliRunner().invoke(cli, ["gt-txt", "-i", str(tmp_path), "--input", str(tmp_path), "-o", "x"])
    assert result.exit_code == 2
    assert "--also-input" in result.output


def test_repeatable_options_and_flags_still_repeat(tmp_path):
    from dataconv.fixtures.base import fixtures

    src = str(tmp_path / "src")
    fixtures()["aihub-tiw"][0](src)
    out = str(tmp_path / "out")
    result = CliRunner().invoke(cli, ["aihub-tiw", "-i", src, "-o", out, "--kind", "word", "--kind",
                                      "character", "-q", "-q"])
    assert result.exit_code == 0, result.output
