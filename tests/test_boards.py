"""Bundled board files (hw_configs/*.yaml) and the board loader's error messages."""
from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml

from neurocompile.boards import load_board, load_board_file
from neurocompile.boards.registry import BOARD_PATH_ENV, board_files
from neurocompile.boards.schema import LoihiFormat, SpinnakerFormat
from neurocompile.errors import BoardError

BOARDS = ["spinn-3", "spinn-5", "spinnaker-24board", "loihi2-oheo-gulch", "loihi2-kapoho-point", "loihi1-nahuku-32"]
NUMBER_TAGS = ("tag:yaml.org,2002:int", "tag:yaml.org,2002:float")


# --------------------------------------------------------------------------- the six bundled boards

@pytest.mark.parametrize("name", BOARDS)
def test_bundled_board_loads_by_name(name):
    board = load_board(name)
    assert board.name == name
    assert Path(board.source_file).stem == name
    assert board.description
    assert board.notes
    assert board.delays.min_steps == 1
    assert board.delays.max_steps_in_core <= board.delays.max_steps_extended
    assert board.n_chips == len(set(board.topology.chips))
    assert set(board.topology.ethernet_chips) <= set(board.topology.chips)


def test_exactly_the_six_boards_are_bundled():
    assert sorted(board_files()) == sorted(BOARDS)


def test_spinnaker_boards():
    s3, s5, big = load_board("spinn-3"), load_board("spinn-5"), load_board("spinnaker-24board")
    assert (s3.n_chips, s5.n_chips, big.n_chips) == (4, 48, 1152)
    for b in (s3, s5, big):
        assert b.family == "spinnaker"
        assert b.topology.kind == "hexagonal"
        assert b.cores_per_chip == 18
        assert b.chip_limits == {"sdram_bytes": 123469792, "router_entries": 1023, "cores": 16,
                                 "ethernet_chip_cores": 15}
        assert b.mapping["ring_buffer_bits"] == 14 and b.mapping["neuron_bytes"]["lif_curr_exp"] == 60
        assert b.core_limits == {"neurons": 256, "dtcm_bytes": 65536}
        assert b.number_format == SpinnakerFormat(16, 15, 16, 15)
        # 2**(14 - atom_bits(256) - type_bits(2)) in core; delay extension adds 8x that.
        assert (b.delays.max_steps_in_core, b.delays.max_steps_extended) == (2 ** (14 - 8 - 1), 288)
        assert b.delays.extension == "delay_extension_cores"
        assert 1.0 in b.timestep_ms
        router = next(c for c in b.energy.events if c.name == "router_pass")
        assert router.value == pytest.approx(25e-12 * 40) and router.counts == "router_passes"  # version_spin1.py
        assert b.energy.step_time.model == "real_time"
    assert not s3.topology.wrap and not s5.topology.wrap and big.topology.wrap
    assert s5.topology.ethernet_chips == ((0, 0),)
    # SpiNN-5 outline: columns 0..4 start at y=0, column x ends at min(3 + x, 7); columns 5..7 start at x - 4.
    assert set(s5.topology.chips) == {(x, y) for x in range(8) for y in range(max(0, x - 4), min(3 + x, 7) + 1)}
    assert (big.topology.width, big.topology.height) == (48, 24)
    assert len(big.topology.ethernet_chips) == 24
    assert (4, 20) in big.topology.ethernet_chips and (44, 16) in big.topology.ethernet_chips
    for x, y in big.topology.ethernet_chips:  # SpiNNMachine version_48_chips.illegal_ethernet_message
        assert x % 4 == 0 and (x + y) % 12 == 0
    # the Ethernet chip has 15 application cores; 8 chips have a dead core (version_5.py)
    assert s5.n_cores == 48 * 16 - 1 - 8
    assert not s3.topology.dead_cores


def test_dead_cores_match_spinn_machine_virtual_boards():
    """Our boards lose exactly the cores SpiNNMachine's virtual machines lack, chip by chip."""
    from spinn_machine import virtual_machine
    from spinn_machine.config_setup import unittest_setup
    from spinn_utilities.config_holder import set_config

    from neurocompile.passes.placement import chip_capacity
    from neurocompile.passes.resources import target_of
    from neurocompile.passes.topology import grid_of

    unittest_setup()
    set_config("Machine", "version", 5)
    for name, (w, h) in (("spinn-5", (8, 8)), ("spinnaker-24board", (48, 24))):
        board = load_board(name)
        machine = virtual_machine(w, h)
        theirs = {(c.x, c.y): board.cores_per_chip - c.n_processors for c in machine.chips
                  if c.n_processors != board.cores_per_chip}
        assert theirs and board.topology.cores_missing() == theirs, name
        grid, t = grid_of(board), target_of(board)
        cap = chip_capacity(t, grid)
        for (x, y), n in theirs.items():
            full = t.ethernet_chip_cores if (x, y) in board.topology.ethernet_chips else t.cores_per_chip
            assert cap[grid.id_at[x, y]] == full - n
        assert int(cap.sum()) == board.n_cores


def test_loihi_boards():
    og, kp, nh = load_board("loihi2-oheo-gulch"), load_board("loihi2-kapoho-point"), load_board("loihi1-nahuku-32")
    assert (og.n_chips, kp.n_chips, nh.n_chips) == (1, 8, 32)
    assert og.topology.kind == "single" and kp.topology.kind == nh.topology.kind == "mesh"
    assert og.family == kp.family == "loihi2" and nh.family == "loihi1"
    for b in (og, kp, nh):
        assert b.cores_per_chip == 128 and b.chip_limits["cores"] == 128
        f = b.number_format
        assert isinstance(f, LoihiFormat)
        assert (f.weight_bits, f.decay_bits, f.vth_mantissa_bits, f.vth_shift) == (8, 12, 17, 6)
        assert (f.bias_mantissa_bits, f.bias_exp_min, f.bias_exp_max, f.state_bits) == (13, 0, 7, 24)
        assert b.delays.extension == "relay_neurons"
        assert b.timestep_ms == ()
    assert nh.core_limits == {"neurons": 1024, "input_axons": 4096, "output_axons": 4096,
                              "synapse_memory_bits": 1048576}
    assert (nh.number_format.weight_exp_min, nh.number_format.weight_exp_max) == (-7, 7)
    assert og.core_limits == kp.core_limits == {"neurons": 8192, "synapse_memory_bits": 1048576}
    # DelayDense 0..63; Loihi 1 through nengo-loihi: one-step delivery only (emulator MAX_DELAY = 1), relays beyond
    assert (og.delays.max_steps_in_core, nh.delays.max_steps_in_core) == (64, 1)


def _number_lines(path: Path) -> list[tuple[int, str]]:
    """(line number, line) of every line holding an int or float YAML scalar."""
    lines = path.read_text().splitlines()
    out, stack = [], [yaml.compose(path.read_text())]
    while stack:
        node = stack.pop()
        if isinstance(node, yaml.ScalarNode):
            if node.tag in NUMBER_TAGS:
                out.append((node.start_mark.line, lines[node.start_mark.line]))
        elif isinstance(node, yaml.SequenceNode):
            stack.extend(node.value)
        elif isinstance(node, yaml.MappingNode):
            stack.extend(v for kv in node.value for v in kv)
    return sorted(set(out))


@pytest.mark.parametrize("name", BOARDS)
def test_every_number_has_a_source_comment(name):
    path = board_files()[name]
    numbers = _number_lines(path)
    assert len(numbers) > 15
    missing = [f"line {i + 1}: {line.strip()}" for i, line in numbers
               if "#" not in line or len(line.split("#", 1)[1].strip()) < 6]
    assert not missing, f"{path}: numbers without a source comment:\n" + "\n".join(missing)


def test_number_line_check_catches_a_bare_number(tmp_path):
    p = tmp_path / "x.yaml"
    p.write_text("a: 1  # source\nb:\n  - [2, 3]\nc: 'quoted 4'\n")
    assert [i for i, line in _number_lines(p) if "#" not in line] == [2]


def test_assumptions_are_marked():
    for name in ("loihi2-oheo-gulch", "loihi2-kapoho-point"):
        text = board_files()[name].read_text()
        for key in ("neurons:", "synapse_memory_bits:", "weight_exp_min:", "weight_exp_max:"):
            line = next(line for line in text.splitlines() if line.strip().startswith(key))
            assert "ASSUMPTION" in line, line
    kapoho = board_files()["loihi2-kapoho-point"].read_text()
    assert "four" in kapoho and "8 Loihi 2 chips" in kapoho  # Intel's 8 vs Lava docstring's 4 is stated
    text = board_files()["loihi1-nahuku-32"].read_text()
    for key in ("width:", "height:"):
        assert "ASSUMPTION" in next(line for line in text.splitlines() if line.strip().startswith(key))


# --------------------------------------------------------------------------- finding boards

def test_board_by_path_and_by_board_path(tmp_path, monkeypatch):
    data = yaml.safe_load(board_files()["spinn-5"].read_text())
    data["name"] = "my-lab-board"
    data["core_limits"]["neurons"] = 128
    f = tmp_path / "my-lab-board.yaml"
    f.write_text(yaml.safe_dump(data))
    assert load_board(str(f)).core_limits["neurons"] == 128
    with pytest.raises(BoardError, match="unknown board 'my-lab-board'.*spinn-5"):
        load_board("my-lab-board")
    monkeypatch.setenv(BOARD_PATH_ENV, str(tmp_path))
    assert load_board("my-lab-board").core_limits["neurons"] == 128
    assert load_board("spinn-5").core_limits["neurons"] == 256  # bundled ones still found


def test_board_path_entry_overrides_a_bundled_name(tmp_path, monkeypatch):
    data = yaml.safe_load(board_files()["spinn-3"].read_text())
    data["core_limits"]["neurons"] = 64
    (tmp_path / "spinn-3.yaml").write_text(yaml.safe_dump(data))
    monkeypatch.setenv(BOARD_PATH_ENV, str(tmp_path))
    assert load_board("spinn-3").core_limits["neurons"] == 64


# --------------------------------------------------------------------------- bad boards

def _spinn5() -> dict:
    return copy.deepcopy(yaml.safe_load(board_files()["spinn-5"].read_text()))


def _loihi2() -> dict:
    return copy.deepcopy(yaml.safe_load(board_files()["loihi2-oheo-gulch"].read_text()))


def _write(tmp_path: Path, data: dict, stem: str = "bad-board") -> Path:
    data["name"] = stem
    p = tmp_path / f"{stem}.yaml"
    p.write_text(yaml.safe_dump(data, sort_keys=False))
    return p


def _del(d, *keys):
    for k in keys[:-1]:
        d = d[k]
    del d[keys[-1]]


def _set(d, value, *keys):
    for k in keys[:-1]:
        d = d[k]
    d[keys[-1]] = value


BAD = [
    # (id, base, mutation, field named in the message)
    ("missing-field", _spinn5, lambda d: _del(d, "cores_per_chip"), "cores_per_chip"),
    ("missing-section", _spinn5, lambda d: _del(d, "delays"), "delays"),
    ("missing-nested", _loihi2, lambda d: _del(d, "number_format", "vth_shift"), "number_format.vth_shift"),
    ("missing-description", _spinn5, lambda d: _del(d, "description"), "description"),
    ("wrong-type-width", _spinn5, lambda d: _set(d, "wide", "topology", "width"), "topology.width"),
    ("wrong-type-wrap", _spinn5, lambda d: _set(d, "no", "topology", "wrap"), "topology.wrap"),
    ("wrong-type-float", _spinn5, lambda d: _set(d, 18.5, "cores_per_chip"), "cores_per_chip"),
    ("wrong-type-notes", _spinn5, lambda d: _set(d, "one note", "notes"), "notes"),
    ("wrong-type-timestep", _spinn5, lambda d: _set(d, 1.0, "timestep_ms"), "timestep_ms"),
    ("negative-limit", _spinn5, lambda d: _set(d, -256, "core_limits", "neurons"), "core_limits.neurons"),
    ("zero-sdram", _spinn5, lambda d: _set(d, 0, "chip_limits", "sdram_bytes"), "chip_limits.sdram_bytes"),
    ("negative-energy", _spinn5, lambda d: _set(d, -1.0, "energy", "events", "router_pass", "joules"),
     "energy.events.router_pass.joules"),
    ("energy-as-string", _spinn5, lambda d: _set(d, "1e-9", "energy", "events", "synaptic_event", "joules"),
     "energy.events.synaptic_event.joules"),
    ("energy-nan", _loihi2, lambda d: _set(d, float("nan"), "energy", "events", "synaptic_event", "joules"),
     "energy.events.synaptic_event.joules"),
    ("energy-unknown-activity", _spinn5, lambda d: _set(d, "photons", "energy", "events", "synaptic_event", "counts"),
     "energy.events.synaptic_event.counts"),
    ("energy-no-source", _loihi2, lambda d: _del(d, "energy", "events", "neuron_update", "source"),
     "energy.events.neuron_update.source"),
    ("energy-measured-not-bool", _spinn5, lambda d: _set(d, "yes", "energy", "static", "board_idle", "measured"),
     "energy.static.board_idle.measured"),
    ("energy-unknown-per", _spinn5, lambda d: _set(d, "rack", "energy", "static", "board_idle", "per"),
     "energy.static.board_idle.per"),
    ("energy-unknown-field", _spinn5, lambda d: _set(d, 1.0, "energy", "events", "synaptic_event", "jouls"),
     "energy.events.synaptic_event.jouls"),
    ("energy-flat-old-style-bad", _spinn5, lambda d: _set(d, {"spike_hop": "1e-9"}, "energy"), "energy.spike_hop"),
    ("step-time-model", _loihi2, lambda d: _set(d, "fast", "energy", "step_time", "model"), "energy.step_time.model"),
    ("step-time-no-barrier", _loihi2, lambda d: _del(d, "energy", "step_time", "barrier"),
     "energy.step_time.barrier"),
    ("time-scale-zero", _spinn5, lambda d: _set(d, 0.0, "energy", "step_time", "time_scale_factor"),
     "energy.step_time.time_scale_factor"),
    ("unknown-family", _spinn5, lambda d: _set(d, "truenorth", "family"), "family"),
    ("unknown-topology", _spinn5, lambda d: _set(d, "torus", "topology", "kind"), "topology.kind"),
    ("unknown-limit", _spinn5, lambda d: _set(d, 4096, "core_limits", "sram_bytes"), "core_limits.sram_bytes"),
    ("unknown-top-level", _spinn5, lambda d: _set(d, {"x": 1.0}, "enery"), "enery"),
    ("unknown-format-field", _loihi2, lambda d: _set(d, 16, "number_format", "state_integer_bits"),
     "number_format.state_integer_bits"),
    ("unknown-extension", _spinn5, lambda d: _set(d, "magic", "delays", "extension"), "delays.extension"),
    ("chip-out-of-range", _spinn5, lambda d: _set(d, [[0, 0], [8, 0]], "topology", "ethernet_chips"),
     "topology.ethernet_chips[1]"),
    ("column-out-of-range", _spinn5, lambda d: _set(d, [0, 8], "topology", "chip_columns", 7),
     "topology.chip_columns[7]"),
    ("columns-wrong-count", _spinn5, lambda d: d["topology"]["chip_columns"].pop(), "topology.chip_columns"),
    ("ethernet-not-a-chip", _spinn5, lambda d: _set(d, [[7, 0]], "topology", "ethernet_chips"),
     "topology.ethernet_chips"),
    ("duplicate-chips", _loihi2, lambda d: _set(d, [[0, 0], [0, 0]], "topology", "chips"), "topology.chips"),
    ("single-with-many-chips", _loihi2, lambda d: _set(d, 2, "topology", "width"), "topology.kind"),
    ("weight-exp-min-gt-max", _loihi2, lambda d: _set(d, 8, "number_format", "weight_exp_min"),
     "number_format.weight_exp_min"),
    ("bias-exp-min-gt-max", _loihi2, lambda d: _set(d, 9, "number_format", "bias_exp_min"),
     "number_format.bias_exp_min"),
    ("weight-bits-too-wide", _loihi2, lambda d: _set(d, 9, "number_format", "weight_bits"),
     "number_format.weight_bits"),
    ("ring-shift-too-big", _spinn5, lambda d: _set(d, 17, "number_format", "max_ring_buffer_shift"),
     "number_format.max_ring_buffer_shift"),
    ("in-core-below-min", _spinn5, lambda d: _set(d, 0, "delays", "max_steps_in_core"), "delays.max_steps_in_core"),
    ("extended-below-in-core", _spinn5, lambda d: _set(d, 16, "delays", "max_steps_extended"),
     "delays.max_steps_extended"),
    ("no-extension-but-extended", _loihi2, lambda d: _set(d, "none", "delays", "extension"),
     "delays.max_steps_extended"),
    ("dead-cores-not-triples", _spinn5, lambda d: _set(d, [[1, 1]], "topology", "dead_cores"), "topology.dead_cores[0]"),
    ("dead-cores-zero", _spinn5, lambda d: _set(d, [[1, 1, 0]], "topology", "dead_cores"), "topology.dead_cores[0]"),
    ("dead-cores-duplicate", _spinn5, lambda d: _set(d, [[1, 1, 1], [1, 1, 2]], "topology", "dead_cores"),
     "topology.dead_cores"),
    ("dead-cores-whole-chip", _spinn5, lambda d: _set(d, [[1, 1, 16]], "topology", "dead_cores"), "topology.dead_cores"),
    ("dead-cores-twice-on-a-torus", lambda: copy.deepcopy(yaml.safe_load(board_files()["spinnaker-24board"].read_text())),
     lambda d: _set(d, [[0, 0, 1], [12, 0, 1]], "topology", "dead_cores"), "topology.dead_cores"),
    ("dead-cores-off-the-board", _spinn5, lambda d: _set(d, [[7, 0, 1]], "topology", "dead_cores"), "topology.dead_cores"),
    ("dead-cores-without-ethernet", _loihi2, lambda d: _set(d, [[0, 0, 1]], "topology", "dead_cores"),
     "topology.dead_cores"),
    ("app-cores-above-cores", _spinn5, lambda d: _set(d, 19, "chip_limits", "cores"), "chip_limits.cores"),
    ("schema-version", _spinn5, lambda d: _set(d, 2, "schema_version"), "schema_version"),
]


@pytest.mark.parametrize("case", BAD, ids=[c[0] for c in BAD])
def test_bad_board_names_file_and_field(tmp_path, case):
    _, base, mutate, field = case
    data = base()
    mutate(data)
    path = _write(tmp_path, data)
    with pytest.raises(BoardError) as e:
        load_board_file(path)
    msg = str(e.value)
    assert str(path) in msg
    assert f"field '{field}'" in msg, msg
    # and through the registry, by path
    with pytest.raises(BoardError):
        load_board(str(path))


def test_name_must_match_file_stem(tmp_path):
    data = _spinn5()
    path = _write(tmp_path, data, stem="lab-board")
    path.write_text(path.read_text().replace("name: lab-board", "name: other-name"))
    with pytest.raises(BoardError) as e:
        load_board_file(path)
    assert str(path) in str(e.value) and "field 'name'" in str(e.value) and "lab-board" in str(e.value)


def test_bad_yaml_syntax_names_file_and_line(tmp_path):
    p = tmp_path / "broken.yaml"
    p.write_text("schema_version: 1\nname: broken\ntopology: {kind: hexagonal, width: 8\ncores_per_chip: 18\n")
    with pytest.raises(BoardError) as e:
        load_board_file(p)
    assert str(p) in str(e.value) and "not valid YAML" in str(e.value) and "line" in str(e.value)


def test_top_level_not_a_mapping(tmp_path):
    p = tmp_path / "list.yaml"
    p.write_text("- 1\n- 2\n")
    with pytest.raises(BoardError, match="list.yaml: expected a YAML mapping"):
        load_board_file(p)


def test_nonexistent_path(tmp_path):
    p = tmp_path / "nowhere" / "missing.yaml"
    with pytest.raises(BoardError) as e:
        load_board(str(p))
    assert str(p) in str(e.value) and "cannot be read" in str(e.value)


def test_unreadable_path_directory(tmp_path):
    d = tmp_path / "dir.yaml"
    d.mkdir()
    with pytest.raises(BoardError) as e:
        load_board_file(d)
    assert str(d) in str(e.value) and "cannot be read" in str(e.value)


def test_binary_file(tmp_path):
    p = tmp_path / "binary.yaml"
    p.write_bytes(b"\xff\xfe\x00\x81 not text")
    with pytest.raises(BoardError) as e:
        load_board_file(p)
    assert str(p) in str(e.value) and "UTF-8" in str(e.value)


def test_unknown_board_name_lists_bundled():
    with pytest.raises(BoardError) as e:
        load_board("spinn-7")
    assert all(name in str(e.value) for name in BOARDS)


def test_old_unsourced_energy_form_is_read_with_a_warning_and_gives_no_estimates(tmp_path):
    # compile directories written before the sourced form keep a copy of the board in the old form
    data = _spinn5()
    data["energy"] = {"synaptic_event": 43.0e-9, "spike_hop": 1.0e-9}
    path = _write(tmp_path, data)
    with pytest.warns(UserWarning, match=r"field 'energy' uses the old form"):
        board = load_board_file(path)
    assert board.energy is None
