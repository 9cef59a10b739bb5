"""The command-line face: exit codes and one-line errors."""

from fromscratch.cli import main


def test_help_lists_commands(capsys):
    assert main(["--help"]) == 0
    out = capsys.readouterr().out
    for name in ("inspect", "compare", "audit", "code", "decide", "demo", "verify"):
        assert name in out


def test_unknown_option_is_exit_2_with_one_line(capsys):
    assert main(["--no-such-option"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("fromscratch: error:")


def test_unknown_command_is_exit_2(capsys):
    assert main(["no-such-command"]) == 2
    assert len(capsys.readouterr().err.strip().splitlines()) == 1


def test_every_command_imports(capsys):
    """No command hides behind a "not available" stub: an import error in one fails here."""
    import click

    from fromscratch.cli import COMMANDS, app

    ctx = click.Context(app)
    for name in COMMANDS:
        assert isinstance(app.get_command(ctx, name), click.Command), name
        assert main([name, "--help"]) == 0, name
    capsys.readouterr()
