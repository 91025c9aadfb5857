"""The `mapping:` board sections the partition/placement/routing passes read.

These are exactly the YAML blocks proposed for hw_configs/*.yaml (see the integration notes); until
the board schema reads them, tests and the benchmark attach them with `resources.with_mapping`.
A board that already carries a `mapping` section (schema integrated) is returned unchanged.
"""
from __future__ import annotations

import yaml

from neurocompile.boards import load_board
from neurocompile.boards.schema import Board
from neurocompile.passes.resources import mapping_section, with_mapping

SPINNAKER_MAPPING_YAML = """
mapping:
  # sPyNNaker / PACMAN 1!7.4.1 storage formats (paths inside site-packages):
  word_bytes: 4  # spinn_front_end_common/utilities/constants.py BYTES_PER_WORD
  row_header_words: 3  # spynnaker/pyNN/models/neuron/synapse_io.py _N_HEADER_WORDS
  max_row_words: 256  # spynnaker/pyNN/utilities/constants.py POP_TABLE_MAX_ROW_LENGTH (master_pop_table.get_allowed_row_length)
  static_words_per_synapse: 1  # synapse_dynamics_static.py get_n_words_for_static_connections
  plastic_row_header_bytes: 8  # synapse_dynamics_stdp.py _n_header_bytes: ceil((TIME_STAMP_BYTES 4 + pair pre-trace 2) / 4) * 4
  plastic_fixed_halfwords_per_synapse: 1  # synapse_dynamics_stdp.py __get_n_connections: fp_size_words = ceil(n / 2)
  plastic_halfwords_per_synapse: 1  # synapse_structure_weight_only.py get_n_half_words_per_connection
  matrix_alignment_bytes: 16  # master_pop_table.py _ADDRESS_SCALE (get_next_allowed_address)
  pop_table_base_bytes: 8  # master_pop_table.py _BASE_SIZE_BYTES
  pop_table_entry_bytes: 20  # master_pop_table.py ctypes.sizeof(_MasterPopEntryCType)
  address_list_entry_bytes: 4  # master_pop_table.py ctypes.sizeof(_AddressListEntryCType)
  ring_buffer_bits: 14  # spynnaker/pyNN/utilities/constants.py MAX_RING_BUFFER_BITS
  ring_buffer_entry_bytes: 2  # neural_modelling/src/neuron/synapses.c: spin1_malloc(ring_buffer_size * sizeof(uint16_t))
  key_bits: 32  # pacman/utilities/constants.py BITS_IN_KEY
  neuron_bytes:  # per-neuron state/parameter bytes
    lif_curr_exp: 60  # IF_curr_exp neuron_impl.structs: 9 + 0 + 1 + 5 words per neuron (measured, sPyNNaker 1!7.4.1)
    poisson: 32  # spike_source_poisson_machine_vertex.py PARAMS_WORDS_PER_NEURON 2 + PARAMS_WORDS_PER_RATE 6 (one rate)
    spike_array: 0  # ESTIMATE: spike times are counted separately (one word per spike)
  atoms_per_core:
    poisson: 500  # spike_source_poisson.py DEFAULT_MAX_ATOMS_PER_CORE
  ethernet_chip_cores: 15  # chip_limits.cores minus the data speed-up gatherer (config_handler.py); see notes
"""

LOIHI1_MAPPING_YAML = """
mapping:
  # nengo-loihi nengo_loihi/block.py (values decoded from nxsdk_obfuscation):
  synapse_block_synapses: 64  # SynapseConfig n_synapses = 63, synapses_per_block = n_synapses + 1
  synapse_block_header_bits: 10  # bits_per_axon: synapse_idx_bits 4 + n_synapses_bits 6
  synapse_word_bits: 64  # bits_per_axon rounds each block up to a multiple of 64 bits
  synapse_index_bits: [0, 6, 7, 8, 9, 10, 11, 12]  # SynapseConfig.INDEX_BITS_MAP
  learning_axon_slots: 2  # Synapse.idxs_per_synapse: 2 if learning else 1
"""

LOIHI2_MAPPING_YAML = """
mapping:
  # ASSUMPTION: Loihi 1's synapse encoding (nengo-loihi block.py); Loihi 2's is not published in open sources.
  synapse_block_synapses: 64  # ASSUMPTION (Loihi 1 value)
  synapse_block_header_bits: 10  # ASSUMPTION (Loihi 1 value)
  synapse_word_bits: 64  # ASSUMPTION (Loihi 1 value)
  synapse_index_bits: [0, 6, 7, 8, 9, 10, 11, 12, 13]  # ASSUMPTION: Loihi 1 map + 13 bits for 8192 neurons per core
  learning_axon_slots: 2  # ASSUMPTION (Loihi 1 value)
"""


def mapping_for(board: Board) -> dict:
    if mapping_section(board):  # the board file has its own (schema integrated)
        return dict(mapping_section(board))
    text = (SPINNAKER_MAPPING_YAML if board.family == "spinnaker"
            else LOIHI1_MAPPING_YAML if board.family == "loihi1" else LOIHI2_MAPPING_YAML)
    return yaml.safe_load(text)["mapping"]


def mapped(board: Board | str) -> Board:
    """The board with its `mapping` section (attached here until the schema reads it)."""
    b = load_board(board) if isinstance(board, str) else board
    if mapping_section(b):
        return b
    return with_mapping(b, mapping_for(b))
