"""Our SpiNNaker weight quantisation == sPyNNaker's own choice, read back after mapping.

For each case a post-synaptic IF_curr_exp population receives FromListConnector projections.
A child process (this file run as a script, with a private XDG_CONFIG_HOME made by
``neurocompile.targets.spinnaker.spynnaker_env``) builds them all in one PyNN script, runs ``sim.run(10)`` on a
virtual SpiNN-5 board and dumps, per post population:

* ``ds_shifts_syn`` / ``ds_shifts_core``: the ring-buffer shifts as written into the data-spec
  database (the bytes the loader would copy into SDRAM): the synapse-parameters region (word 7 on,
  ``population_machine_synapses._write_synapse_parameters``) and the neuron core-parameters region
  (word 5 on, ``population_machine_neurons._write_neuron_core_parameters``);
* ``host_shifts``: ``PopulationVertex.get_ring_buffer_shifts()`` (what the splitter used);
* per projection, ``ds``: every synapse word of that projection's synaptic matrix, sliced out of the
  synaptic-matrix region content of the data-spec database at the offsets sPyNNaker reserved for it
  (undelayed and delay-extension blocks).  The 16-bit weight is taken from the raw word
  (``word >> 16``); source, target and delay come from sPyNNaker's own reader
  ``synapse_io.convert_to_connections`` on the same bytes;
* per projection, ``get``: ``Projection.get(["weight", "delay"], format="list")``, which on a virtual
  board is filled from the same generated row words (``SynapticMatrixApp.append_matrix`` ->
  ``__update_connection_holders``) and divided by the weight scale; times the scale this must be the
  integer again.

The parent asserts that ``neurocompile.targets.spinnaker.weights`` gives the same shifts and,
synapse by synapse, the same uint16 weights.  sPyNNaker missing is a failure, not a skip (it is in
our ``all`` extra).
"""
from __future__ import annotations

import importlib.util
import json
import sys
import time
from pathlib import Path

import numpy as np
import pytest

pytestmark = pytest.mark.spinnaker

RUN_TIME_MS = 10
TIMESTEPS = (1.0, 0.1)


# ----------------------------------------------------------------------------------------------
# Cases (deterministic; shared by parent and child through a JSON file)
# ----------------------------------------------------------------------------------------------
def _pairs(rng, n_pre, n_post, p):
    pre, post = np.nonzero(rng.random((n_pre, n_post)) < p)
    return pre, post


def _proj(pre_key, pre, post, w, d_ticks, dt, receptor="excitatory"):
    d_ms = np.asarray(d_ticks, dtype=float) * dt
    return {"pre": pre_key, "receptor": receptor,
            "conns": [[int(i), int(j), float(x), float(y)] for i, j, x, y in zip(pre, post, w, d_ms)]}


def make_cases(dt: float) -> list[dict]:
    rng = np.random.default_rng(20240611 + int(round(dt * 1000)))
    cases = []

    def case(name, n_post, pres, projs, params=None):
        cases.append({"name": name, "n_post": n_post, "pres": pres, "projections": projs,
                      "params": params or {}})

    ssa = lambda n: {"kind": "array", "n": n}  # noqa: E731
    pois = lambda n, r: {"kind": "poisson", "n": n, "rate": r}  # noqa: E731

    # 1 constant weight, one delay -> delay variance 0 -> worst-case sum (fan-in * w)
    pre, post = _pairs(rng, 20, 10, 0.5)
    case("exc_const_d1", 10, {"A": ssa(20)},
         [_proj("A", pre, post, np.full(len(pre), 0.5), np.ones(len(pre)), dt)])

    # 2 max input exactly 1.0 -> shift 1 (2**0 <= 1); round-half-even ties at 0.5, 1.5, 2.5, 3.5 LSB
    lsb = 2.0 ** -14
    case("ties_and_pow2_boundary", 2, {"A": ssa(6)},
         [_proj("A", [0, 1, 2, 3, 4, 5], [0, 0, 0, 0, 1, 1],
                [0.25, 2.5 * lsb, 3.5 * lsb, 0.5 * lsb, 1.5 * lsb, 0.2],
                [1, 1, 1, 1, 1, 1], dt)])

    # 3 max input exactly 4.0 -> shift 3, not 2
    pre, post = _pairs(rng, 4, 3, 1.1)
    case("pow2_boundary_4", 3, {"A": ssa(4)},
         [_proj("A", pre, post, np.ones(len(pre)), np.ones(len(pre)), dt)])

    # 4 mixed exc/inh, several delays (incl. half-tick ones), tiny weights rounding to zero
    pre, post = _pairs(rng, 30, 12, 0.4)
    w = rng.uniform(0.05, 2.0, len(pre))
    tiny = rng.random(len(pre)) < 0.15
    w[tiny] = 10.0 ** rng.uniform(-8, -4, tiny.sum())
    d = rng.choice([1, 2, 5, 17, 2.5, 3.3], len(pre))
    pre2, post2 = _pairs(rng, 25, 12, 0.3)
    case("mixed_exc_inh_delays", 12, {"A": ssa(30), "B": ssa(25)},
         [_proj("A", pre, post, w, d, dt),
          _proj("B", pre2, post2, -rng.uniform(0.01, 1.5, len(pre2)),
                rng.choice([1, 3], len(pre2)), dt, "inhibitory")])

    # 5 only tiny weights: shift 0, most round to 0
    pre, post = _pairs(rng, 50, 5, 0.6)
    case("tiny_weights_only", 5, {"A": ssa(50)},
         [_proj("A", pre, post, 10.0 ** rng.uniform(-7, -3, len(pre)),
                rng.choice([1, 2], len(pre)), dt)])

    # 6 Poisson source at 800 Hz: sPyNNaker ignores the source rate (uses post spikes_per_second)
    pre, post = _pairs(rng, 40, 10, 0.5)
    case("poisson_rate_ignored", 10, {"P": pois(40, 800.0)},
         [_proj("P", pre, post, rng.uniform(0.1, 1.0, len(pre)),
                rng.integers(1, 8, len(pre)), dt)])

    # 7 population parameters spikes_per_second and ring_buffer_sigma
    pre, post = _pairs(rng, 40, 10, 0.5)
    case("pop_rate_and_sigma", 10, {"P": pois(40, 5.0)},
         [_proj("P", pre, post, rng.uniform(0.1, 1.0, len(pre)),
                rng.integers(1, 8, len(pre)), dt)],
         {"spikes_per_second": 250.0, "ring_buffer_sigma": 2.0})

    # 8 dense lognormal exc + inh
    pre, post = _pairs(rng, 200, 20, 0.3)
    pre2, post2 = _pairs(rng, 100, 20, 0.3)
    case("lognormal_dense", 20, {"A": ssa(200), "B": ssa(100)},
         [_proj("A", pre, post, rng.lognormal(-2.0, 1.0, len(pre)),
                rng.integers(1, 20, len(pre)), dt),
          _proj("B", pre2, post2, -rng.lognormal(-1.5, 0.7, len(pre2)),
                rng.integers(1, 20, len(pre2)), dt, "inhibitory")])

    # 9 long delays -> delay-extension block (200 neurons/core: 32 in-core slots).  Pre and post
    # have the same atoms per core on purpose: sPyNNaker 1!7.4.1 lays delayed rows out with the
    # *post* atoms/core (synapse_io.get_synapses l.299-304) but reads them, and keys them, with the
    # *pre* atoms/core (_convert_delayed_data l.662-665, synaptic_matrices l.461-466); with a
    # 20-neuron pre every synapse beyond 2 x 32 ticks is silently dropped from the matrix.
    pre, post = _pairs(rng, 200, 200, 0.02)
    case("long_delays_extension", 200, {"A": ssa(200)},
         [_proj("A", pre, post, rng.uniform(0.1, 0.5, len(pre)),
                rng.integers(1, 250, len(pre)), dt)])

    # 10 two projections from the same pre with another pre's projection created in between
    pre, post = _pairs(rng, 10, 6, 0.5)
    pre2, post2 = _pairs(rng, 10, 6, 0.5)
    pre3, post3 = _pairs(rng, 10, 6, 0.4)
    case("interleaved_same_pre", 6, {"A": ssa(10), "B": ssa(10)},
         [_proj("A", pre, post, np.full(len(pre), 0.3), np.ones(len(pre)), dt),
          _proj("B", pre2, post2, rng.uniform(0.1, 0.9, len(pre2)),
                rng.choice([1, 2], len(pre2)), dt),
          _proj("A", pre3, post3, np.full(len(pre3), 0.7), np.full(len(pre3), 3), dt)])

    # 11 negative weights sent to the excitatory receptor: stored as |w|, excitatory
    pre, post = _pairs(rng, 10, 5, 0.6)
    case("negative_on_excitatory", 5, {"A": ssa(10)},
         [_proj("A", pre, post, -rng.uniform(0.1, 1.0, len(pre)),
                rng.choice([1, 4], len(pre)), dt)])

    # 12 too small max_expected_summed_weight: shift 0, weights >= 2.0 wrap modulo 2**16
    pre, post = _pairs(rng, 12, 4, 0.7)
    w = rng.uniform(0.2, 3.0, len(pre))
    w[:3] = [2.0, 2.5, 3.0]
    case("max_expected_summed_weight_wraps", 4, {"A": ssa(12)},
         [_proj("A", pre, post, w, np.ones(len(pre)), dt),
          _proj("A", pre, post, -np.full(len(pre), 0.1), np.ones(len(pre)), dt, "inhibitory")],
         {"max_expected_summed_weight": [0.5, 0.5]})

    # 13 inhibitory only: excitatory ring buffer shift 0
    pre, post = _pairs(rng, 15, 6, 0.5)
    case("inhibitory_only", 6, {"A": ssa(15)},
         [_proj("A", pre, post, -rng.uniform(0.5, 3.0, len(pre)),
                rng.choice([1, 4], len(pre)), dt, "inhibitory")])

    # 14 big weights -> large shift
    pre, post = _pairs(rng, 30, 8, 0.8)
    case("large_weights", 8, {"A": ssa(30)},
         [_proj("A", pre, post, rng.uniform(5.0, 20.0, len(pre)), np.ones(len(pre)), dt)])

    # 15 delays of 1.0 and 1.3 ticks are both stored as 1 tick: delay variance is computed on the
    # rounded delays, so (at dt = 1 ms) this is the worst-case path
    pre, post = _pairs(rng, 12, 5, 0.6)
    case("sub_tick_delays_round_together", 5, {"A": ssa(12)},
         [_proj("A", pre, post, np.full(len(pre), 0.4), rng.choice([1.0, 1.3], len(pre)), dt)])

    # 16 spikes_per_second above the tick rate: spikes_per_tick = 2.5 scales the worst-case sum
    pre, post = _pairs(rng, 12, 5, 0.5)
    case("spikes_per_tick_above_one", 5, {"A": ssa(12)},
         [_proj("A", pre, post, np.full(len(pre), 0.5), np.ones(len(pre)), dt)],
         {"spikes_per_second": 2500.0})
    return cases


CASES = {dt: make_cases(dt) for dt in TIMESTEPS}


# ----------------------------------------------------------------------------------------------
# Child: build, run on the virtual board, extract (only this part imports sPyNNaker)
# ----------------------------------------------------------------------------------------------
def _child(spec_path: str, out_path: str) -> None:
    spec = json.loads(Path(spec_path).read_text())
    import pyNN.spiNNaker as sim
    from pacman.utilities.utility_calls import get_n_bits
    from spinn_front_end_common.interface.ds import DsSqlliteDatabase
    from spynnaker.pyNN.data import SpynnakerDataView
    from spynnaker.pyNN.models.neuron.synapse_io import convert_to_connections

    dt = spec["timestep"]
    sim.setup(timestep=dt)
    built = []
    for c in spec["cases"]:
        pres = {}
        for key, p in c["pres"].items():
            label = f"{c['name']}_{key}"
            if p["kind"] == "array":
                pres[key] = sim.Population(p["n"], sim.SpikeSourceArray(spike_times=[1.0]),
                                           label=label)
            else:
                pres[key] = sim.Population(p["n"], sim.SpikeSourcePoisson(rate=p["rate"]),
                                           label=label)
        post = sim.Population(c["n_post"], sim.IF_curr_exp(), label=f"{c['name']}_post",
                              additional_parameters=c["params"] or None)
        projs = [sim.Projection(pres[p["pre"]], post,
                                sim.FromListConnector([tuple(x) for x in p["conns"]]),
                                synapse_type=sim.StaticSynapse(), receptor_type=p["receptor"])
                 for p in c["projections"]]
        built.append((c, post, projs))

    sim.run(RUN_TIME_MS)

    out = {"timestep_ms": SpynnakerDataView.get_simulation_time_step_ms(), "cases": {}}
    with DsSqlliteDatabase() as ds:
        for c, post, projs in built:
            app = post._vertex  # pylint: disable=protected-access
            rec = {"host_shifts": [int(s) for s in app.get_ring_buffer_shifts()],
                   "cores": [], "projections": [{"ds": [], "get": []} for _ in projs]}
            # Combined cores (PopulationMachineVertex) carry both region sets; with split cores
            # (chosen e.g. at dt = 0.1 ms) the neuron core has the core parameters and the lead
            # synapse core the synapse parameters and the matrices (shared synapse cores only
            # reference the lead's regions, so they have no content of their own).
            for mv in app.machine_vertices:
                pl = SpynnakerDataView.get_placement_of_vertex(mv)
                regions = {num: content for num, _ptr, content
                           in ds.get_region_pointers_and_content(pl.x, pl.y, pl.p)}
                core = {"xyp": [pl.x, pl.y, pl.p], "vertex": type(mv).__name__}
                rec["cores"].append(core)
                nreg = getattr(mv, "NEURON_REGIONS", None)
                if nreg is not None and regions.get(nreg.core_params) is not None:
                    cp = np.frombuffer(bytes(regions[nreg.core_params]), "<u4")
                    core["ds_shifts_core"] = [int(x) for x in cp[5:5 + int(cp[4])]]
                sreg = getattr(mv, "SYNAPSE_REGIONS", None)
                if sreg is None or regions.get(sreg.synapse_params) is None:
                    continue
                sp = np.frombuffer(bytes(regions[sreg.synapse_params]), "<u4")
                n_types = int(sp[1])
                core["ds_shifts_syn"] = [int(x) for x in sp[7:7 + n_types]]
                content = regions.get(sreg.synaptic_matrix)
                content = bytes(content) if content is not None else b""
                matrices = mv._synaptic_matrices._SynapticMatrices__matrices
                for k, proj in enumerate(projs):
                    s_info = proj._synapse_information
                    m = matrices[(proj._projection_edge, s_info)]
                    scales = np.asarray(m._SynapticMatrixApp__weight_scales, dtype=float)
                    core["weight_scales"] = scales.tolist()
                    mri = m._SynapticMatrixApp__max_row_info
                    mapc = m._SynapticMatrixApp__max_atoms_per_core
                    id_bits, type_bits = get_n_bits(mapc), get_n_bits(n_types)
                    blocks = []
                    if m._SynapticMatrixApp__syn_mat_offset is not None:
                        o = m._SynapticMatrixApp__syn_mat_offset
                        blocks.append((False, content[o:o + m._SynapticMatrixApp__matrix_size],
                                       mri.undelayed_max_words))
                    if m._SynapticMatrixApp__delay_syn_mat_offset is not None:
                        o = m._SynapticMatrixApp__delay_syn_mat_offset
                        blocks.append((True,
                                       content[o:o + m._SynapticMatrixApp__delay_matrix_size],
                                       mri.delayed_max_words))
                    for delayed, block, max_words in blocks:
                        conns = convert_to_connections(
                            s_info, mv.vertex_slice, proj._projection_edge.pre_vertex.n_atoms,
                            max_words, n_types, scales, block, delayed,
                            app.splitter.max_support_delay(), mapc)
                        rows = np.frombuffer(block, "<u4").reshape(-1, max_words + 3)
                        words = []
                        for row in rows:  # static row: [0, n_fixed, 0, n words, padding]
                            assert row[0] == 0 and row[2] == 0, row[:3]
                            words.extend(row[3:3 + int(row[1])])
                        words = np.asarray(words, dtype=np.uint32)
                        assert len(words) == len(conns)
                        w_raw = words >> 16
                        s_type = (words >> id_bits) & ((1 << type_bits) - 1)
                        target = words & ((1 << id_bits) - 1)
                        scale = scales[s_info.synapse_type]
                        # sPyNNaker's reader on the same bytes agrees with the raw decode
                        assert np.array_equal(conns["weight"] * scale, w_raw)
                        assert np.array_equal(conns["target"] - mv.vertex_slice.lo_atom, target)
                        for src, tgt, dly, w16, st in zip(conns["source"], conns["target"],
                                                          conns["delay"], w_raw, s_type):
                            rec["projections"][k]["ds"].append(
                                [int(src), int(tgt), float(dly), int(w16), int(st), bool(delayed)])
            for k, proj in enumerate(projs):
                got = proj.get(["weight", "delay"], format="list")
                rec["projections"][k]["get"] = [[int(i), int(j), float(w), float(d)]
                                                for i, j, w, d in got]
            out["cases"][c["name"]] = rec
    sim.end()
    Path(out_path).write_text(json.dumps(out))


# ----------------------------------------------------------------------------------------------
# Parent
# ----------------------------------------------------------------------------------------------
def _require_spynnaker():
    missing = [m for m in ("spynnaker", "pyNN") if importlib.util.find_spec(m) is None]
    if missing:
        pytest.fail(f"{missing} not importable: sPyNNaker 1!7.4.1 and PyNN 0.13 are declared "
                    "dependencies (pip install -e '.[all]')", pytrace=False)


@pytest.fixture(scope="module", params=TIMESTEPS, ids=lambda dt: f"dt{dt}")
def spynnaker_run(request, tmp_path_factory):
    _require_spynnaker()
    from neurocompile.targets.spinnaker.spynnaker_env import make_spynnaker_env

    dt = request.param
    base = tmp_path_factory.mktemp(f"spynnaker_dt{dt}")
    # isolate_home=False plus an empty fake HOME: proves the XDG redirection alone keeps sPyNNaker
    # (and everything it imports) out of the home directory.
    senv = make_spynnaker_env(base / "env", isolate_home=False)
    fake_home = base / "fake_home"
    fake_home.mkdir()
    spec = base / "spec.json"
    out = base / "out.json"
    spec.write_text(json.dumps({"timestep": dt, "cases": CASES[dt]}))
    t0 = time.perf_counter()
    proc = senv.run_python(__file__, "--child", str(spec), str(out),
                           env_extra={"HOME": str(fake_home)}, timeout=900)
    elapsed = time.perf_counter() - t0
    if proc.returncode != 0 or not out.exists():
        pytest.fail(f"sPyNNaker child failed (rc={proc.returncode})\n--- stdout\n"
                    f"{proc.stdout[-5000:]}\n--- stderr\n{proc.stderr[-8000:]}", pytrace=False)
    print(f"\n[spynnaker dt={dt}] child run {elapsed:.1f}s")
    return {"dt": dt, "cases": {c["name"]: c for c in CASES[dt]},
            "result": json.loads(out.read_text()), "fake_home": fake_home,
            "report_dir": senv.report_dir}


def _ours(case, dt):
    from neurocompile.targets.spinnaker.weights import ListProjection, spinnaker_weights

    projs = []
    for p in case["projections"]:
        a = np.asarray(p["conns"], dtype=float).reshape(-1, 4)
        projs.append(ListProjection(pre=a[:, 0].astype(int), post=a[:, 1].astype(int),
                                    weights=a[:, 2], delays=a[:, 3], pre_key=p["pre"],
                                    receptor=0 if p["receptor"] == "excitatory" else 1))
    prm = case["params"]
    shifts, w16 = spinnaker_weights(
        projs, timestep_ms=dt, spikes_per_second=prm.get("spikes_per_second"),
        ring_buffer_sigma=prm.get("ring_buffer_sigma"),
        max_expected_summed_weight=prm.get("max_expected_summed_weight"))
    return projs, shifts, w16


CASE_IDS = [(dt, c["name"]) for dt in TIMESTEPS for c in CASES[dt]]


def _get(spynnaker_run, name):
    return spynnaker_run["cases"][name], spynnaker_run["result"]["cases"][name]


@pytest.mark.parametrize("name", [c["name"] for c in CASES[TIMESTEPS[0]]])
def test_shift_matches_spynnaker(spynnaker_run, name):
    case, rec = _get(spynnaker_run, name)
    _, shifts, _ = _ours(case, spynnaker_run["dt"])
    syn = [c for c in rec["cores"] if "ds_shifts_syn" in c]
    neu = [c for c in rec["cores"] if "ds_shifts_core" in c]
    assert syn and neu, f"no synapse/neuron parameters found in {rec['cores']}"
    for core in syn + neu:
        # what the splitter computed is what was written into the regions
        for key in ("ds_shifts_syn", "ds_shifts_core"):
            if key in core:
                assert core[key] == rec["host_shifts"], (core, rec["host_shifts"])
    for core in syn:
        # weight scale 2**(15 - shift) (global scale 1.0 for IF_curr_exp)
        assert core["weight_scales"] == [2.0 ** (15 - x) for x in core["ds_shifts_syn"]]
    assert shifts.tolist() == syn[0]["ds_shifts_syn"], (
        f"{name}: ours {shifts.tolist()} != sPyNNaker {syn[0]['ds_shifts_syn']}")


@pytest.mark.parametrize("name", [c["name"] for c in CASES[TIMESTEPS[0]]])
def test_uint16_weights_match_spynnaker(spynnaker_run, name):
    from neurocompile.targets.spinnaker.weights import from_list_delays

    dt = spynnaker_run["dt"]
    case, rec = _get(spynnaker_run, name)
    projs, shifts, w16 = _ours(case, dt)
    scales = [c for c in rec["cores"] if "weight_scales" in c][0]["weight_scales"]
    per_ms = 1.0 / spynnaker_run["result"]["timestep_ms"]
    for k, (proj, ours) in enumerate(zip(projs, w16)):
        recv = rec["projections"][k]
        ds = np.asarray(recv["ds"], dtype=float).reshape(-1, 6)
        assert len(ds) == len(ours), f"{name}[{k}]: {len(ds)} synapses on chip, {len(ours)} ours"
        # align by (pre, post): every case uses each pair at most once per projection
        o_ours = np.lexsort((proj.post, proj.pre))
        o_ds = np.lexsort((ds[:, 1], ds[:, 0]))
        np.testing.assert_array_equal(ds[o_ds, 0], proj.pre[o_ours])
        np.testing.assert_array_equal(ds[o_ds, 1], proj.post[o_ours])
        np.testing.assert_array_equal(
            ds[o_ds, 3].astype(np.uint16), ours[o_ours],
            err_msg=f"{name}[{k}]: uint16 weights differ (shift {shifts.tolist()})")
        np.testing.assert_array_equal(ds[:, 4], proj.receptor)  # synapse-type bits of the word
        # delays as FromListConnector rounds them (sanity of the alignment, not our subject)
        np.testing.assert_array_equal(
            np.rint(ds[o_ds, 2] * per_ms),
            np.rint(from_list_delays(proj.delays, dt)[o_ours] * per_ms))
        # Projection.get on the virtual board == ds bytes / scale
        got = np.asarray(recv["get"], dtype=float).reshape(-1, 4)
        o_get = np.lexsort((got[:, 1], got[:, 0]))
        scaled = got[o_get, 2] * scales[proj.receptor]
        np.testing.assert_array_equal(scaled, np.round(scaled))
        np.testing.assert_array_equal(scaled.astype(np.uint16), ours[o_ours])


def test_cases_exercise_what_they_claim(spynnaker_run):
    """Guards against a case silently degenerating (e.g. no zeros, no wrap, no delay block)."""
    res = spynnaker_run["result"]["cases"]

    def w(name, k=0):
        return np.asarray(res[name]["projections"][k]["ds"], dtype=float).reshape(-1, 6)

    assert (w("mixed_exc_inh_delays")[:, 3] == 0).any()
    assert (w("tiny_weights_only")[:, 3] == 0).mean() > 0.3
    assert w("long_delays_extension")[:, 5].any(), "no delay-extension synapses"
    assert res["inhibitory_only"]["host_shifts"][0] == 0
    assert res["max_expected_summed_weight_wraps"]["host_shifts"] == [0, 0]
    # 2.0, 2.5, 3.0 nA at scale 2**15 wrap to 0, 16384, 32768
    assert {0, 16384, 32768} <= set(w("max_expected_summed_weight_wraps")[:, 3].astype(int))
    if spynnaker_run["dt"] == 1.0:
        assert res["ties_and_pow2_boundary"]["host_shifts"][0] == 1
        assert res["pow2_boundary_4"]["host_shifts"][0] == 3
        ties = sorted(w("ties_and_pow2_boundary")[:, 3].astype(int).tolist())
        assert ties == sorted([4096, 2, 4, 0, 2, round(0.2 * 2 ** 14)])  # half-even: 2.5->2, 1.5->2
    else:
        # At dt = 0.1 ms a single delay of 0.1 ms has numpy.var == 1.9e-34, not 0, so sPyNNaker
        # takes the statistical bound instead of the worst-case sum (fan-in 4 x 1.0 nA -> shift 1,
        # not 3).
        assert res["pow2_boundary_4"]["host_shifts"][0] == 1


def test_home_untouched(spynnaker_run):
    assert list(spynnaker_run["fake_home"].iterdir()) == []
    assert any(spynnaker_run["report_dir"].iterdir()), "reports did not go to our directory"


if __name__ == "__main__" and len(sys.argv) == 4 and sys.argv[1] == "--child":
    _child(sys.argv[2], sys.argv[3])
