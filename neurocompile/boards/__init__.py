"""Hardware descriptions loaded from hw_configs/ YAML files."""
from neurocompile.boards.registry import all_boards, board_files, load_board
from neurocompile.boards.schema import Board, Delays, LoihiFormat, SpinnakerFormat, Topology, load_board_file, parse_board

__all__ = ["Board", "Delays", "LoihiFormat", "SpinnakerFormat", "Topology", "all_boards",
           "board_files", "load_board", "load_board_file", "parse_board"]
