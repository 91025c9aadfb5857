"""Board descriptions: typed, validated view of a `hw_configs/*.yaml` file.

Passes never hard-code hardware numbers; they read them from a Board. Limits are generic
(resource name -> amount) so that a pass can check "every per-core limit" without knowing the
family, while family-specific number formats are typed.
See docs/boards.md for the file layout; every number in the files carries its source.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import math

import yaml

from neurocompile.boards.energy import EnergyModel, read_energy
from neurocompile.errors import BoardError, clip, shorten

SCHEMA_VERSION = 1
TOP_LEVEL_FIELDS = ("schema_version", "name", "family", "description", "topology", "cores_per_chip", "chip_limits",
                    "core_limits", "number_format", "delays", "timestep_ms", "energy", "mapping", "notes")
FAMILIES = ("spinnaker", "loihi1", "loihi2")
# Which number-format record and `mapping` field group a board file of each family carries.
FORMAT_OF_FAMILY = {"spinnaker": "spinnaker", "loihi1": "loihi", "loihi2": "loihi"}
TOPOLOGIES = ("hexagonal", "mesh", "single")

# Reader limits (docs/boards.md, "Limits"), checked before anything of that size is built.
MAX_BOARD_FILE_BYTES = 2**20      # the bundled files are a few kB
MAX_YAML_NODES = 100_000          # YAML nodes after expanding aliases (stops billion-laughs files)
MAX_GRID_SIDE = 256               # SpiNNaker's chip coordinates are 8 bits; Loihi systems are smaller
MAX_BOARD_INT = 2**48             # any integer field (limits in bytes included)

# Resource names passes understand. Per core / per chip limits may use any subset.
CORE_RESOURCES = {
    "neurons": "neurons (compartments) per core",
    "input_axons": "distinct input axons (presynaptic sources) per core",
    "output_axons": "output axons (fan-out destinations) per core",
    "synapse_memory_bits": "synaptic memory per core, bits",
    "dtcm_bytes": "data tightly-coupled memory per core, bytes",
    "fan_in_synapses": "synapses targeting one core",
}
CHIP_RESOURCES = {
    "sdram_bytes": "shared memory per chip available to applications, bytes",
    "router_entries": "multicast routing table entries per chip",
    "cores": "cores per chip usable by applications",
    "ethernet_chip_cores": "cores usable by applications on a chip with an Ethernet connection",
}

# The `mapping` section: storage-format facts the partition/placement/routing passes need
# (neurocompile/passes/resources.py MAPPING_FIELDS lists meaning and source of each).
MAPPING_INT_FIELDS = {
    "spinnaker": ("word_bytes", "row_header_words", "max_row_words", "static_words_per_synapse",
                  "plastic_row_header_bytes", "plastic_fixed_halfwords_per_synapse", "plastic_halfwords_per_synapse",
                  "matrix_alignment_bytes", "pop_table_base_bytes", "pop_table_entry_bytes",
                  "address_list_entry_bytes", "ring_buffer_bits", "ring_buffer_entry_bytes", "key_bits"),
    "loihi": ("synapse_block_synapses", "synapse_block_header_bits", "synapse_word_bits", "learning_axon_slots"),
}
MAPPING_MODEL_FIELDS = {"spinnaker": ("neuron_bytes", "atoms_per_core"), "loihi": ()}
MAPPING_LIST_FIELDS = {"spinnaker": (), "loihi": ("synapse_index_bits",)}


@dataclass(frozen=True)
class Topology:
    """Chips on a 2-D grid. `hexagonal`: SpiNNaker's 6-link mesh (E, NE, N, W, SW, S)."""

    kind: str
    width: int
    height: int
    wrap: bool
    chips: tuple[tuple[int, int], ...]  # coordinates of chips present
    ethernet_chips: tuple[tuple[int, int], ...] = ()
    #: (dx, dy, cores missing) relative to each Ethernet chip, i.e. on every board (SpiNNMachine's
    #: virtual boards model dead cores this way: version_5.py CHIPS_PER_BOARD)
    dead_cores: tuple[tuple[int, int, int], ...] = ()

    @property
    def n_chips(self) -> int:
        return len(self.chips)

    def dead_core_chips(self) -> list[tuple[int, int, int]]:
        """(x, y, cores missing) of every offset from every Ethernet chip (wrapping on a torus);
        the parser checks each lands on a chip and no chip is named twice."""
        out = []
        for ex, ey in self.ethernet_chips:
            for dx, dy, n in self.dead_cores:
                x, y = ex + dx, ey + dy
                if self.wrap:
                    x, y = x % self.width, y % self.height
                out.append((x, y, n))
        return out

    def cores_missing(self) -> dict[tuple[int, int], int]:
        """{(x, y): cores missing}, on every board."""
        return {(x, y): n for x, y, n in self.dead_core_chips()}


@dataclass(frozen=True)
class SpinnakerFormat:
    """SpiNNaker: s16.15 state (accum), 16-bit unsigned weights with a per-receptor shift."""

    state_integer_bits: int
    state_fraction_bits: int
    weight_bits: int
    max_ring_buffer_shift: int


@dataclass(frozen=True)
class LoihiFormat:
    """Loihi 1/2 fixed point as the compiler must emit it."""

    weight_bits: int           # magnitude bits incl. the LSB dropped in mixed sign mode
    weight_exp_min: int
    weight_exp_max: int
    decay_bits: int            # du, dv
    vth_mantissa_bits: int
    vth_shift: int             # threshold = vth << vth_shift
    bias_mantissa_bits: int    # signed
    bias_exp_min: int
    bias_exp_max: int
    state_bits: int            # u, v register width


@dataclass(frozen=True)
class Delays:
    """Delay range in timesteps, in the IR convention (spike at t arrives at t + delay)."""

    min_steps: int
    max_steps_in_core: int              # without any extension mechanism
    max_steps_extended: int             # with delay-extension cores / relays; == in_core if none
    extension: str                      # "none" | "delay_extension_cores" | "relay_neurons"


@dataclass(frozen=True)
class Board:
    name: str
    family: str
    description: str
    source_file: str
    topology: Topology
    cores_per_chip: int
    core_limits: dict[str, int]
    chip_limits: dict[str, int]
    number_format: SpinnakerFormat | LoihiFormat
    delays: Delays
    timestep_ms: tuple[float, ...]      # timesteps the target supports (empty: any)
    energy: EnergyModel | None = None   # optional sourced costs for estimates (boards/energy.py)
    notes: tuple[str, ...] = ()
    mapping: dict[str, Any] = field(default_factory=dict)  # storage formats for the mapping passes

    @property
    def n_chips(self) -> int:
        return self.topology.n_chips

    @property
    def n_cores(self) -> int:
        cores = self.chip_limits.get("cores", self.cores_per_chip)
        eth = self.chip_limits.get("ethernet_chip_cores", cores)
        return (self.n_chips * cores - len(self.topology.ethernet_chips) * (cores - eth)
                - sum(self.topology.cores_missing().values()))

    def summary(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "family": self.family,
            "chips": self.n_chips,
            "cores_per_chip": self.chip_limits.get("cores", self.cores_per_chip),
            "neurons_per_core": self.core_limits.get("neurons"),
            "max_delay_steps": self.delays.max_steps_extended,
            "description": self.description,
        }


class _Reader:
    """Reads typed fields out of nested dicts, failing with file + dotted field + expectation."""

    def __init__(self, source: str) -> None:
        self.source = source

    def fail(self, where: str, expected: str, got: Any) -> BoardError:
        return BoardError(f"{self.source}: field '{clip(where, 80)}': expected {expected}, got {shorten(got)}")

    def section(self, d: dict[str, Any], key: str, where: str) -> dict[str, Any]:
        v = d.get(key)
        if not isinstance(v, dict):
            raise self.fail(f"{where}{key}", "a mapping", v)
        return v

    def get(self, d: dict[str, Any], key: str, where: str, conv: Callable[[Any], Any],
            expected: str, check: Callable[[Any], bool] = lambda v: True, default: Any = ...) -> Any:
        if key not in d:
            if default is not ...:
                return default
            raise self.fail(f"{where}{key}", expected, "<missing>")
        raw = d[key]
        if isinstance(raw, bool) != (conv is bool):  # bool("no") is True; 1 is not a boolean
            raise self.fail(f"{where}{key}", expected, raw)
        if conv is int and not isinstance(raw, (int, float)):
            raise self.fail(f"{where}{key}", expected, raw)  # int("12") would pass a string
        if conv is int and isinstance(raw, float) and not (math.isfinite(raw) and raw == int(raw)):
            raise self.fail(f"{where}{key}", expected, raw)  # .inf, .nan, 2.5
        if conv is str and not isinstance(raw, str):
            raise self.fail(f"{where}{key}", expected, raw)
        try:
            v = conv(raw)
        except (TypeError, ValueError, OverflowError):
            raise self.fail(f"{where}{key}", expected, raw) from None
        if conv is int and abs(v) > MAX_BOARD_INT:
            raise self.fail(f"{where}{key}", f"{expected} of at most 2**48", raw)
        if not check(v):
            raise self.fail(f"{where}{key}", expected, raw)
        return v

    def pos_int(self, d: dict[str, Any], key: str, where: str, **kw: Any) -> int:
        return self.get(d, key, where, int, "a positive integer", lambda v: v > 0, **kw)

    def int_(self, d: dict[str, Any], key: str, where: str, **kw: Any) -> int:
        return self.get(d, key, where, int, "an integer", **kw)


def _no_unknown(r: _Reader, d: dict[str, Any], allowed: tuple[str, ...], where: str) -> None:
    unknown = sorted(str(k) for k in set(d) - set(allowed))
    if unknown:
        raise r.fail(f"{where}{unknown[0]}", f"one of {list(allowed)} (unknown field)", unknown[0])


def _coords(r: _Reader, raw: Any, where: str, width: int, height: int) -> tuple[tuple[int, int], ...]:
    if not isinstance(raw, list) or len(raw) > width * height:
        raise r.fail(where, f"a list of at most {width * height} [x, y] pairs", raw)
    out = []
    for i, c in enumerate(raw):
        if (not isinstance(c, list) or len(c) != 2 or not all(isinstance(v, int) and not isinstance(v, bool) for v in c)
                or not (0 <= c[0] < width and 0 <= c[1] < height)):
            raise r.fail(f"{where}[{i}]", f"[x, y] with 0<=x<{width}, 0<=y<{height}", c)
        out.append((c[0], c[1]))
    if len(set(out)) != len(out):
        raise r.fail(where, "distinct coordinates", "duplicates")
    return tuple(out)


def _read_topology(r: _Reader, d: dict[str, Any]) -> Topology:
    t = r.section(d, "topology", "")
    w = "topology."
    _no_unknown(r, t, ("kind", "width", "height", "wrap", "chips", "chip_columns", "ethernet_chips",
                       "dead_cores"), w)
    kind = r.get(t, "kind", w, str, f"one of {list(TOPOLOGIES)}", lambda v: v in TOPOLOGIES)
    width = r.get(t, "width", w, int, f"a positive integer <= {MAX_GRID_SIDE}", lambda v: 0 < v <= MAX_GRID_SIDE)
    height = r.get(t, "height", w, int, f"a positive integer <= {MAX_GRID_SIDE}", lambda v: 0 < v <= MAX_GRID_SIDE)
    wrap = r.get(t, "wrap", w, bool, "true or false", default=False)
    if "chips" in t:
        chips = _coords(r, t["chips"], w + "chips", width, height)
    elif "chip_columns" in t:
        # Compact form for SpiNN-5 boards: per column x, the [first, last] y present.
        cols = t["chip_columns"]
        if not isinstance(cols, list) or len(cols) != width:
            raise r.fail(w + "chip_columns", f"a list of {width} [y_first, y_last] pairs", cols)
        chips_l = []
        for x, c in enumerate(cols):
            if not (isinstance(c, list) and len(c) == 2
                    and all(isinstance(v, int) and not isinstance(v, bool) for v in c)
                    and 0 <= c[0] <= c[1] < height):
                raise r.fail(f"{w}chip_columns[{x}]", f"[y_first, y_last] within 0..{height - 1}", c)
            chips_l += [(x, y) for y in range(c[0], c[1] + 1)]
        chips = tuple(chips_l)
    else:
        chips = tuple((x, y) for x in range(width) for y in range(height))
    if kind == "single" and len(chips) != 1:
        raise r.fail(w + "kind", f"'mesh' or 'hexagonal' for {len(chips)} chips ('single' means one chip)", kind)
    eth = _coords(r, t.get("ethernet_chips", []), w + "ethernet_chips", width, height)
    if not set(eth) <= set(chips):
        raise r.fail(w + "ethernet_chips", "coordinates of chips that exist", sorted(set(eth) - set(chips)))
    dead = _dead_cores(r, t.get("dead_cores", []), w + "dead_cores", width, height, bool(eth))
    topo = Topology(kind, width, height, wrap, chips, eth, dead)
    seen: set[tuple[int, int]] = set()
    present = set(chips)
    for x, y, _ in topo.dead_core_chips():
        if (x, y) not in present:
            raise r.fail(w + "dead_cores", "offsets that land on a chip from every Ethernet chip",
                         f"({x}, {y}), which is not a chip")
        if (x, y) in seen:
            raise r.fail(w + "dead_cores", "offsets that reach each chip from one Ethernet chip only",
                         f"({x}, {y}) twice")
        seen.add((x, y))
    return topo


def _dead_cores(r: _Reader, raw: Any, where: str, width: int, height: int, has_eth: bool
                ) -> tuple[tuple[int, int, int], ...]:
    """[[dx, dy, cores missing], ...] relative to each Ethernet chip."""
    if raw and not has_eth:
        raise r.fail(where, "empty unless topology.ethernet_chips is given (offsets are relative to them)", raw)
    if not isinstance(raw, list):
        raise r.fail(where, "a list of [dx, dy, cores missing] triples", raw)
    out = []
    for i, c in enumerate(raw):
        if (not isinstance(c, list) or len(c) != 3 or not all(isinstance(v, int) and not isinstance(v, bool) for v in c)
                or not (0 <= c[0] < width and 0 <= c[1] < height and c[2] >= 1)):
            raise r.fail(f"{where}[{i}]", f"[dx, dy, n] with 0<=dx<{width}, 0<=dy<{height}, n>=1", c)
        out.append((c[0], c[1], c[2]))
    if len({(x, y) for x, y, _ in out}) != len(out):
        raise r.fail(where, "distinct offsets", "duplicates")
    return tuple(out)


def _read_limits(r: _Reader, d: dict[str, Any], key: str, known: dict[str, str]) -> dict[str, int]:
    sec = r.section(d, key, "")
    unknown = sorted(str(k) for k in set(sec) - set(known))
    if unknown:
        raise r.fail(f"{key}.{unknown[0]}", f"one of {sorted(known)}", unknown[0])
    return {k: r.pos_int(sec, k, f"{key}.") for k in sec}


def _read_format(r: _Reader, d: dict[str, Any], family: str) -> SpinnakerFormat | LoihiFormat:
    f = r.section(d, "number_format", "")
    w = "number_format."
    kind = FORMAT_OF_FAMILY[family]
    _no_unknown(r, f, tuple(SpinnakerFormat.__dataclass_fields__ if kind == "spinnaker"
                            else LoihiFormat.__dataclass_fields__), w)
    if kind == "spinnaker":
        return SpinnakerFormat(
            state_integer_bits=r.pos_int(f, "state_integer_bits", w),
            state_fraction_bits=r.pos_int(f, "state_fraction_bits", w),
            weight_bits=r.pos_int(f, "weight_bits", w),
            max_ring_buffer_shift=r.get(f, "max_ring_buffer_shift", w, int, "an integer in 0..16",
                                        lambda v: 0 <= v <= 16),
        )
    fmt = LoihiFormat(
        weight_bits=r.get(f, "weight_bits", w, int, "an integer in 1..8", lambda v: 1 <= v <= 8),
        weight_exp_min=r.int_(f, "weight_exp_min", w),
        weight_exp_max=r.int_(f, "weight_exp_max", w),
        decay_bits=r.pos_int(f, "decay_bits", w),
        vth_mantissa_bits=r.pos_int(f, "vth_mantissa_bits", w),
        vth_shift=r.get(f, "vth_shift", w, int, "a non-negative integer", lambda v: v >= 0),
        bias_mantissa_bits=r.pos_int(f, "bias_mantissa_bits", w),
        bias_exp_min=r.int_(f, "bias_exp_min", w),
        bias_exp_max=r.int_(f, "bias_exp_max", w),
        state_bits=r.pos_int(f, "state_bits", w),
    )
    if fmt.weight_exp_min > fmt.weight_exp_max:
        raise r.fail(w + "weight_exp_min", f"<= weight_exp_max ({fmt.weight_exp_max})", fmt.weight_exp_min)
    if fmt.bias_exp_min > fmt.bias_exp_max:
        raise r.fail(w + "bias_exp_min", f"<= bias_exp_max ({fmt.bias_exp_max})", fmt.bias_exp_min)
    return fmt


def _read_delays(r: _Reader, d: dict[str, Any]) -> Delays:
    s = r.section(d, "delays", "")
    w = "delays."
    _no_unknown(r, s, ("min_steps", "max_steps_in_core", "max_steps_extended", "extension"), w)
    mn = r.pos_int(s, "min_steps", w)
    core = r.get(s, "max_steps_in_core", w, int, f"an integer >= min_steps ({mn})", lambda v: v >= mn)
    ext = r.get(s, "max_steps_extended", w, int, f"an integer >= max_steps_in_core ({core})",
                lambda v: v >= core, default=core)
    kinds = ("none", "delay_extension_cores", "relay_neurons")
    mech = r.get(s, "extension", w, str, f"one of {list(kinds)}", lambda v: v in kinds, default="none")
    if mech == "none" and ext != core:
        raise r.fail(w + "max_steps_extended", f"== max_steps_in_core ({core}) when extension is 'none'", ext)
    return Delays(mn, core, ext, mech)


def _read_mapping(r: _Reader, d: dict[str, Any], family: str) -> dict[str, Any]:
    if "mapping" not in d:
        return {}
    m = r.section(d, "mapping", "")
    w = "mapping."
    group = FORMAT_OF_FAMILY[family]
    ints, models, lists = MAPPING_INT_FIELDS[group], MAPPING_MODEL_FIELDS[group], MAPPING_LIST_FIELDS[group]
    _no_unknown(r, m, ints + models + lists, w)
    out: dict[str, Any] = {k: r.pos_int(m, k, w) for k in ints if k in m}
    for k in models:
        if k not in m:
            continue
        sec = r.section(m, k, w)
        minimum = 1 if k == "atoms_per_core" else 0
        out[k] = {str(model): r.get(sec, model, f"{w}{k}.", int, f"an integer >= {minimum}",
                                    lambda v, lo=minimum: v >= lo) for model in sec}
    for k in lists:
        if k not in m:
            continue
        v = m[k]
        if (not isinstance(v, list) or not v
                or not all(isinstance(x, int) and not isinstance(x, bool) and x >= 0 for x in v)):
            raise r.fail(f"{w}{k}", "a non-empty list of non-negative integers", v)
        out[k] = [int(x) for x in v]
    return out


def parse_board(data: Any, source: str) -> Board:
    r = _Reader(source)
    if not isinstance(data, dict):
        raise BoardError(f"{source}: expected a YAML mapping at the top level, got {type(data).__name__}")
    r.get(data, "schema_version", "", int, f"{SCHEMA_VERSION}", lambda v: v == SCHEMA_VERSION)
    _no_unknown(r, data, TOP_LEVEL_FIELDS, "")
    name = r.get(data, "name", "", str, "a non-empty string", lambda v: bool(v.strip()))
    description = data.get("description")
    if not isinstance(description, str) or not description.strip():
        raise r.fail("description", "a non-empty string", description if "description" in data else "<missing>")
    family = r.get(data, "family", "", str, f"one of {list(FAMILIES)}", lambda v: v in FAMILIES)
    topo = _read_topology(r, data)
    chip = _read_limits(r, data, "chip_limits", CHIP_RESOURCES)
    core = _read_limits(r, data, "core_limits", CORE_RESOURCES)
    cores_per_chip = r.pos_int(data, "cores_per_chip", "")
    if chip.get("cores", cores_per_chip) > cores_per_chip:
        raise r.fail("chip_limits.cores", f"<= cores_per_chip ({cores_per_chip})", chip["cores"])
    if chip.get("ethernet_chip_cores", 0) > chip.get("cores", cores_per_chip):
        raise r.fail("chip_limits.ethernet_chip_cores", f"<= chip_limits.cores ({chip.get('cores', cores_per_chip)})",
                     chip["ethernet_chip_cores"])
    for (x, y), n in topo.cores_missing().items():
        have = chip.get("ethernet_chip_cores" if (x, y) in topo.ethernet_chips else "cores",
                        chip.get("cores", cores_per_chip))
        if n >= have:
            raise r.fail("topology.dead_cores", f"fewer cores missing than chip ({x}, {y}) has ({have})", n)
    ts = data.get("timestep_ms", [])
    if not isinstance(ts, list) or not all(isinstance(v, (int, float)) and not isinstance(v, bool)
                                           and 0 < v < math.inf for v in ts):
        raise r.fail("timestep_ms", "a list of positive finite numbers", ts)
    energy = read_energy(r, data)
    notes = data.get("notes", []) or []
    if not isinstance(notes, list) or not all(isinstance(n, str) for n in notes):
        raise r.fail("notes", "a list of strings", notes)
    return Board(
        name=name,
        family=family,
        description=description.strip(),
        source_file=source,
        topology=topo,
        cores_per_chip=cores_per_chip,
        core_limits=core,
        chip_limits=chip,
        number_format=_read_format(r, data, family),
        delays=_read_delays(r, data),
        timestep_ms=tuple(float(v) for v in ts),
        energy=energy,
        notes=tuple(str(n) for n in notes),
        mapping=_read_mapping(r, data, family),
    )


class _BoundedLoader(yaml.SafeLoader):
    """yaml.SafeLoader that counts nodes as if every alias were expanded and stops at
    MAX_YAML_NODES: aliases share objects, but later code (checks, messages) walks them."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._weight: dict[int, int] = {}

    def compose_node(self, parent: Any, index: Any) -> Any:
        node = super().compose_node(parent, index)
        if id(node) not in self._weight:
            if isinstance(node, yaml.MappingNode):
                w = 1 + sum(self._weight.get(id(k), 1) + self._weight.get(id(v), 1) for k, v in node.value)
            elif isinstance(node, yaml.SequenceNode):
                w = 1 + sum(self._weight.get(id(v), 1) for v in node.value)
            else:
                w = 1
            if w > MAX_YAML_NODES:
                raise BoardError(f"more than {MAX_YAML_NODES:,} YAML nodes once aliases are expanded "
                                 f"(at line {node.start_mark.line + 1})")
            self._weight[id(node)] = w
        return node


def _yaml_load(text: str, path: Path) -> Any:
    loader = None
    try:
        loader = _BoundedLoader(text)  # the reader already rejects control characters here
        return loader.get_single_data()
    except BoardError as e:
        raise BoardError(f"{path}: {e}") from None
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        loc = f" at line {mark.line + 1}" if mark else ""
        raise BoardError(f"{path}: not valid YAML{loc} ({clip(getattr(e, 'problem', None) or e)})") from None
    except RecursionError:
        raise BoardError(f"{path}: not valid YAML (nested too deeply)") from None
    except (ValueError, TypeError, OverflowError) as e:  # e.g. a timestamp with month 13
        raise BoardError(f"{path}: not valid YAML ({clip(e)})") from None
    finally:
        if loader is not None:
            loader.dispose()


def load_board_file(path: str | Path) -> Board:
    path = Path(path)
    try:
        if path.exists() and not path.is_file():  # /dev/zero or a FIFO would be read forever
            raise BoardError(f"board file {str(path)!r} cannot be read (not a regular file)")
        with open(path, "rb") as fh:
            raw = fh.read(MAX_BOARD_FILE_BYTES + 1)
    except OSError as e:
        raise BoardError(f"board file {str(path)!r} cannot be read ({e.strerror})") from None
    if len(raw) > MAX_BOARD_FILE_BYTES:
        raise BoardError(f"board file {str(path)!r} is larger than the {MAX_BOARD_FILE_BYTES:,} byte limit")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        raise BoardError(f"{path}: not a UTF-8 text file ({e.reason} at byte {e.start})") from None
    data = _yaml_load(text, path)
    board = parse_board(data, str(path))
    if board.name != path.stem:  # boards are looked up by file stem; a different name would be confusing
        raise BoardError(f"{path}: field 'name': expected the file name without .yaml ({path.stem!r}), "
                         f"got {shorten(board.name)}")
    return board
