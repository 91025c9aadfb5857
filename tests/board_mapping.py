"""Boards for the mapping tests: the bundled boards, whose `mapping:` sections live in hw_configs/."""
from __future__ import annotations

from neurocompile.boards import load_board
from neurocompile.boards.schema import Board
from neurocompile.passes.resources import mapping_section


def mapping_for(board: Board) -> dict:
    return dict(mapping_section(board))


def mapped(board: Board | str) -> Board:
    return load_board(board) if isinstance(board, str) else board
