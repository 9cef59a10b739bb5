"""Command-line entry point: thin, lazy, and strict about exit codes.

Each sub-command lives next to the code it drives (``<area>/commands.py``) and is
imported only when invoked, so ``fromscratch --help`` stays fast and an optional
extra missing for one command never breaks another (heavy extras are imported inside
the commands, through ``errors.require``). Exit codes: 0 done, 2 bad input (one line on
stderr), 4 verification failed, 1 a bug.
"""

from __future__ import annotations

import importlib
import sys

import click

from fromscratch import __version__
from fromscratch.constants import debug
from fromscratch.errors import InputError, MissingExtraError, VerificationError

# name -> "module:attribute" of a click.Command; the module is imported on use.
COMMANDS: dict[str, tuple[str, str]] = {
    "inspect": ("fromscratch.artifacts.commands:inspect_cmd", "Show a model's tensors, components, tokenizer and claims."),
    "compare": ("fromscratch.lineage.commands:compare_cmd", "Weight lineage of one candidate against one reference."),
    "audit": ("fromscratch.policy.commands:audit_cmd", "Audit a candidate against references, under a from-scratch policy."),
    "tokenizer": ("fromscratch.tokenizer.commands:tokenizer_cmd", "Tokenizer lineage of two models (identical/extended/pruned/derived/independent)."),
    "code": ("fromscratch.code.commands:code_cmd", "Source-code reuse of a candidate tree against references (and `code index`)."),
    "protocol": ("fromscratch.decide.commands:protocol_group", "Create and seal a round's decision protocol."),
    "decide": ("fromscratch.decide.commands:decide_cmd", "Decide eliminations under a sealed protocol, with robustness."),
    "bench": ("fromscratch.bench.commands:bench_group", "Run benchmark tasks and import results."),
    "round": ("fromscratch.round.commands:round_group", "Open a sealed round, record submissions, run it into a verifiable folder."),
    "verify": ("fromscratch.round.commands:verify_cmd", "Re-check a round folder's ledger, signature and files."),
    "demo": ("fromscratch.round.demo:demo_cmd", "Run the main job end to end on built-in material."),
    "zoo": ("fromscratch.zoo.commands:zoo_cmd", "Build (or locate) the fixture model zoo."),
    "gauntlet": ("fromscratch.disguise.commands:gauntlet_cmd", "Disguise a model every way lineage claims to see through; report caught/missed."),
    "chain": ("fromscratch.chain.commands:chain_cmd", "Verify a checkpoint chain: fresh init, continuous training, ends at the submission."),
    "registry": ("fromscratch.registry.commands:registry_group", "Keep fingerprints of known models (add, list, remove, export, import, defaults)."),
    "search": ("fromscratch.registry.commands:search_cmd", "Search a candidate against every registered model, without naming a suspect."),
}


class LazyGroup(click.Group):
    """A group whose sub-commands are imported only when used."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        target = COMMANDS.get(cmd_name)
        if target is None:
            return None
        module_name, attr = target[0].split(":")
        return getattr(importlib.import_module(module_name), attr)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = [(name, COMMANDS[name][1]) for name in self.list_commands(ctx)]
        with formatter.section("Commands"):
            formatter.write_dl(rows)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="fromscratch")
def app() -> None:
    """fromscratch: an open referee for national foundation-model competitions."""


def _fail(code: int, message: str) -> int:
    line = " ".join(str(message).split())
    click.echo(f"fromscratch: error: {line}", err=True)
    return code


def main(argv: list[str] | None = None) -> int:
    """Run the CLI and map every failure to the exit codes of docs/cli.md.

    Returns the exit code; the console script passes it to ``sys.exit``.
    """
    try:
        rv = app.main(args=argv, prog_name="fromscratch", standalone_mode=False)
    except click.exceptions.Exit as exc:
        return int(exc.exit_code or 0)
    except click.exceptions.Abort:
        return _fail(130, "aborted")
    except click.ClickException as exc:  # usage errors, bad options, missing paths
        return _fail(2, exc.format_message())
    except InputError as exc:
        return _fail(2, exc.one_line())
    except MissingExtraError as exc:
        return _fail(2, str(exc))
    except VerificationError as exc:
        return _fail(4, "verification failed: " + "; ".join(exc.problems))
    except KeyboardInterrupt:
        return _fail(130, "interrupted")
    except BrokenPipeError:
        return 0
    except Exception as exc:  # a bug: say so in one line unless debugging
        if debug():
            raise
        return _fail(1, f"internal error ({type(exc).__name__}: {exc}); "
                        "set FROMSCRATCH_DEBUG=1 for a traceback and please report it")
    return rv if isinstance(rv, int) else 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
