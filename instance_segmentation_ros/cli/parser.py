"""The command line: the parser of every command, in the order --help shows them.

Each command's module declares its arguments (`add_arguments`) and what runs it, as one
`arguments.Command`.
"""

from __future__ import annotations

import argparse

from . import bag, demo, folder, image, webcam, zoo
from .arguments import Command
from .common import EXIT_USAGE, PROG


def commands() -> tuple[Command, ...]:
    """Every command, in the order --help lists them."""
    return (image.COMMAND, folder.COMMAND, bag.COMMAND, webcam.COMMAND, demo.COMMAND,
            zoo.LIST_MODELS, zoo.DOWNLOAD_MODEL)


class _Parser(argparse.ArgumentParser):
    """argparse with one-line errors (the usage is one --help away)."""

    def error(self, message):
        self.exit(EXIT_USAGE, f'{self.prog}: error: {message} (see {self.prog} --help)\n')


def build_parser() -> argparse.ArgumentParser:
    """The argparse parser of all subcommands."""
    parser = _Parser(
        prog=PROG,
        description='Mask R-CNN instance segmentation without ROS: one image, a folder, a '
                    'webcam, and the TensorFlow zoo models. Same model loading, '
                    'post-processing and rendering as segmentation_node.',
        epilog=f'"{PROG} COMMAND --help" describes each command. --model takes a SavedModel '
               'folder, a frozen graph .pb, an unpacked zoo folder, or the name of a zoo model '
               'fetched with download-model.')
    parser.add_argument('-v', '--verbose', action='store_true',
                        help='show TensorFlow log output and tracebacks of unexpected errors')
    subcommands = parser.add_subparsers(dest='command', title='commands', metavar='COMMAND')
    for command in commands():
        subparser = subcommands.add_parser(command.name, help=command.help,
                                           description=command.description)
        command.add_arguments(subparser)
        subparser.set_defaults(run=command.run)
    return parser
