"""``poshbridge renew-script HOST`` and ``poshbridge task-xml HOST``: per-host files, no remote host needed.

Without ``-o`` the document is printed as text. With ``-o FILE`` it is written in the form Windows
wants: the renewal script as UTF-8 with BOM and CRLF (Windows PowerShell 5.1 reads BOM-less scripts
in the ANSI code page), the task XML as UTF-16 LE with BOM and CRLF (``schtasks /create /xml``).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from poshbridge.cli.common import (
    EXIT_OK,
    exit_usage,
    load_inventory_or_exit,
    select_one_host_or_exit,
    write_bytes_file,
    wrote_line,
)
from poshbridge.cli.plain import escape_markup as escape
from poshbridge.cli.plain import make_text_console
from poshbridge.generate.renew_script import DEFAULT_STYLE, STYLES

if TYPE_CHECKING:
    from poshbridge.inventory.model import HostConfig


def register(subparsers: Any, common: argparse.ArgumentParser) -> None:
    script = subparsers.add_parser(
        "renew-script",
        parents=[common],
        help="print or write the renewal .ps1 for one host",
        description="Generate the renewal script for HOST: 'manual' = the JPRS manual's section 4.3 "
        "script; 'hardened' (default) = POSHACME_HOME, dated transcripts, JSON result, exit code.",
    )
    _common_arguments(script, "write the script to FILE (UTF-8 with BOM, CRLF) instead of printing it")
    script.set_defaults(func=run_renew_script)

    task = subparsers.add_parser(
        "task-xml",
        parents=[common],
        help="print or write the Task Scheduler XML for one host",
        description="Generate the scheduled task (Task XML 1.2, SYSTEM, daily with repetition) that runs "
        "the renewal script of HOST.",
    )
    _common_arguments(task, "write the XML to FILE (UTF-16 LE with BOM, CRLF) instead of printing it")
    task.set_defaults(func=run_task_xml)


def _common_arguments(parser: argparse.ArgumentParser, output_help: str) -> None:
    parser.add_argument("host", metavar="HOST", help="the inventory host (exactly one)")
    parser.add_argument("-o", "--output", metavar="FILE", help=output_help)
    parser.add_argument(
        "--style",
        choices=STYLES,
        default=DEFAULT_STYLE,
        help=f"script style (default: {DEFAULT_STYLE})",
    )


def _emit(
    args: argparse.Namespace,
    text: Callable[[HostConfig, str], str],
    file_bytes: Callable[[HostConfig, str], bytes],
    what: str,
) -> int:
    err = make_text_console(stderr=True)
    inventory = load_inventory_or_exit(args, err)
    host = select_one_host_or_exit(inventory, args.host, err)
    try:
        if args.output:
            data = file_bytes(host, args.style)
            write_bytes_file(args.output, data)
            if args.output != "-":
                target = escape(args.output)
                err.print(wrote_line(target, f"{what} for {host.name}, {len(data)} bytes"), soft_wrap=True)
        else:
            sys.stdout.write(text(host, args.style))
            sys.stdout.flush()
    except (ValueError, TypeError) as exc:
        exit_usage(err, f"cannot generate the {what} for {host.name}: {exc}")
    except OSError as exc:
        exit_usage(err, f"cannot write {args.output}: {exc.strerror or exc}")
    return EXIT_OK


def run_renew_script(args: argparse.Namespace) -> int:
    from poshbridge.generate.renew_script import render_renew_script, renew_script_file_bytes

    return _emit(args, render_renew_script, renew_script_file_bytes, f"{args.style} renewal script")


def run_task_xml(args: argparse.Namespace) -> int:
    from poshbridge.generate.task_xml import task_xml_file_bytes, task_xml_text

    return _emit(args, task_xml_text, task_xml_file_bytes, f"{args.style} task XML")
