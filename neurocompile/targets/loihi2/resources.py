"""Loihi's per-core resource model, from nengo-loihi's block model (used for Loihi 2 with the
board's assumed parameters: an ESTIMATE where marked).

Loihi (nengo-loihi nengo_loihi/block.py, decoded from nxsdk_obfuscation; all limits per core):
- neurons (compartments), input axons, output axons, synapse memory bits, from `core_limits`.
- input axons: one per distinct presynaptic neuron per projection targeting the core, two if the
  projection learns (block.py Synapse.idxs_per_synapse).
- output axons: for each neuron, one per (projection, destination core) it has synapses to
  (nengo-loihi counts Axon.axon_slots over a block's axons); needs the post partition.
- synapse memory: per input axon, its n synapses on the core are stored in blocks of
  `synapse_block_synapses` (n_synapses + 1 = 64); a block costs n * bits_per_weight + 10 header
  bits (4 synapse_idx_bits + 6 n_synapses_bits), rounded up to a 64-bit word
  (SynapseConfig.bits_per_axon). bits_per_weight = weight_bits + delay_bits + index_bits
  (sparse "compression 0"; index_bits = smallest of INDEX_BITS_MAP = [0, 6, .., 12] that holds
  ceil(log2(neurons on the core)); weight_bits = the board's number_format.weight_bits, or the
  projection's `num_weight_bits`). delay_bits = ceil(log2(max hardware delay + 1)) is OUR ESTIMATE
  (nengo-loihi never sets delay_bits; Lava's DelayDense uses 6 bits for 0..63). Loihi 2 uses the
  same formula with the board's (assumed) parameters: an ESTIMATE.
"""
from __future__ import annotations

import math

import numpy as np

from neurocompile.ir.network import Network, Population, Projection
from neurocompile.passes.resources import ProjStats, Target

#: board `mapping` fields read here: name -> (meaning, where the number comes from)
MAPPING_FIELDS: dict[str, tuple[str, str]] = {
        "synapse_block_synapses": ("synapses per synapse block of one axon",
                                   "nengo-loihi block.py SynapseConfig n_synapses = 63, +1"),
        "synapse_block_header_bits": ("header bits per synapse block",
                                      "nengo-loihi block.py bits_per_axon: synapse_idx_bits 4 + n_synapses_bits 6"),
        "synapse_word_bits": ("synapse memory word (blocks round up to it)",
                              "nengo-loihi block.py bits_per_axon rounds to 64 bits"),
        "synapse_index_bits": ("allowed index widths (list)",
                               "nengo-loihi block.py SynapseConfig.INDEX_BITS_MAP = [0, 6, 7, 8, 9, 10, 11, 12]"),
        "learning_axon_slots": ("input axon slots per axon of a learning projection",
                                "nengo-loihi block.py Synapse.idxs_per_synapse = 2 when learning"),
}


def _loihi_bpw(t: Target, proj: Projection, part_sizes: np.ndarray) -> np.ndarray:
    wbits = int(proj.attrs.get("num_weight_bits", t.m["weight_bits"]))
    max_hw_delay = int(proj.delay.max()) - t.board.delays.min_steps if proj.n_synapses else 0
    dbits = int(math.ceil(math.log2(max_hw_delay + 1))) if max_hw_delay > 0 else 0
    idx_map = t.m["index_bits"]
    need = index_bits_needed(part_sizes)
    allowed = np.array(sorted(idx_map), dtype=np.int64)
    pos = np.searchsorted(allowed, need, side="left")
    idx = np.where(pos < allowed.size, allowed[np.minimum(pos, allowed.size - 1)], need)
    return wbits + dbits + idx


def index_bits_needed(part_sizes: np.ndarray) -> np.ndarray:
    """nengo-loihi Synapse.idx_bits: ceil(log2(max index + 1)) with max index = neurons - 1."""
    return np.ceil(np.log2(np.maximum(np.asarray(part_sizes, dtype=np.int64), 1))).astype(np.int64)
