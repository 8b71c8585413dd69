"""The `pbx` console command. Each sub-command module exposes register(subparsers)."""
from __future__ import annotations

import argparse
import importlib
import os
import sys

from pbx.errors import PbxError

# Modules that add sub-commands; each has register(subparsers) and sets args.func.
COMMAND_MODULES = ["pbx.cli.run_cmd", "pbx.cli.admin_cmds", "pbx.cli.line_cmds", "pbx.cli.sim_cmds",
                   "pbx.cli.ban_cmds", "pbx.cli.dialplan_cmds", "pbx.cli.contact_cmds", "pbx.cli.crm_cmds",
                   "pbx.cli.recording_cmds"]


def add_data_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--data",
        default=os.environ.get("PBX_DATA", "./var"),
        help="data directory (env PBX_DATA, default ./var)",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="pbx", description="Branch-office PBX appliance")
    sub = parser.add_subparsers(dest="command", required=True)
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except PbxError as exc:
        print(f"pbx: {exc.message}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
