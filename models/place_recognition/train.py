"""The modular place-recognition SNN (Hussaini, Milford & Fischer 2023), simulated with numba.

One module = 784 Poisson inputs (one per pixel of a 28 x 28 patch-normalised image) -> n_exc
excitatory neurons (all-to-all, STDP-learned weights) <-> n_exc inhibitory neurons (exc j -> inh j
one-to-one; inh k -> every exc neuron except k: lateral inhibition). This is Diehl & Cook (2015)'s
network, which the paper uses per module. Each module learns ~25 consecutive places from the
reference traverses. Module outputs are combined by a global argmax.

Neuron model: the network is simulated with PyNN's IF_curr_exp (current-based LIF with
exponential synapses) exactly as our float simulator integrates it (backends/sim/float_mode.py:
same propagators, same order of operations, delay 1 on every connection), so the trained module
deploys to the IR without any conversion. During training the excitatory threshold is Diehl &
Cook's adaptive one, v_thresh + theta_j, theta_j += theta_plus at every spike of neuron j (no decay,
as tc_theta = 1e7 ms in the original). After training theta is frozen: each excitatory neuron's
IF_curr_exp v_thresh = v_thresh + theta_j.

Learning (off-chip, as in the paper): Diehl & Cook's STDP on input->exc weights (in [0, w_max]):
pre trace x_pre (tau 20 ms) and post traces x_post1 (20 ms), x_post2 (40 ms), set to 1 on a spike;
input spike: w -= nu_pre * x_post1; excitatory spike: w += nu_post * (x_pre - x_tar) (stdp="pair",
the rule of the Diehl & Cook paper, default) or w += nu_post * x_pre * x_post2(before)
(stdp="triplet", their code's rule; it needs a neuron to fire repeatedly within ~40 ms, which the
sparse regime here rarely gives, so templates barely form). Before every presentation each
excitatory neuron's input weights are normalised to sum to `weight_sum` (78 for 784 inputs, as in
the original). Synaptic current = input_gain_nA * w.

Simplifications vs the paper (see docs/models/place_recognition.md): current-based instead of
conductance-based synapses; dt = 1 ms; each image is shown for `steps` (175) ms at twice the
paper's input rate (255 -> 127.5 Hz instead of 63.75 Hz over 350 ms: the same number of input
spikes); instead of a 150 ms rest the state (membrane, currents, traces) is reset between images;
no random 0-10 ms input delays (all delays are 1 step); 40 epochs instead of 60; images shuffled
in every epoch.

Readout (paper, "standard" assignments): each excitatory neuron is assigned to the place of its
module for which its mean spike count over that place's reference images is highest (neurons
that never fire stay unassigned). A place's score for a query is the mean spike count of the kept
neurons assigned to it. Hyperactive neurons are removed, as in the paper's code: every module is
shown every reference image (all places, all reference traverses); a neuron that fires for at
least T of them is ignored by the readout (T = 0: none removed); T is chosen from a grid to
maximise Recall@1 on a calibration traverse.
The predicted place is the global argmax of the scores over all modules.
"""
from __future__ import annotations

import json
import math
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, BinaryIO, Callable

import numba
import numpy as np

N_INPUT = 784
STATE_VERSION = 1   # bump when training or the saved format changes: invalidates cached ensembles


@dataclass(frozen=True)
class SNNConfig:
    """Neuron, synapse and learning parameters of one module (IF_curr_exp units: ms, mV, nF, nA)."""

    n_exc: int = 400
    steps: int = 175                 # presentation time per image (dt = 1 ms)
    max_rate_hz: float = 127.5       # input rate of a 255 pixel
    epochs: int = 40
    # excitatory neurons (Diehl & Cook: tau 100 ms, rest/reset -65, thresh -52 (+theta), refrac 5)
    tau_m_e: float = 100.0
    cm_e: float = 1.0
    v_rest_e: float = -65.0
    v_reset_e: float = -65.0
    v_thresh_e: float = -52.0
    tau_refrac_e: float = 5.0
    tau_syn_E_e: float = 1.0
    tau_syn_I_e: float = 2.0
    # inhibitory neurons (Diehl & Cook: tau 10 ms, rest -60, reset -45, thresh -40, refrac 2)
    tau_m_i: float = 10.0
    cm_i: float = 1.0
    v_rest_i: float = -60.0
    v_reset_i: float = -45.0
    v_thresh_i: float = -40.0
    tau_refrac_i: float = 2.0
    tau_syn_E_i: float = 1.0
    tau_syn_I_i: float = 2.0
    # recurrent weights (nA): one exc spike makes its inh partner fire at the next step
    w_ei: float = 40.0
    w_ie: float = -0.5
    # input weights
    input_gain_nA: float = 0.075     # nA per unit weight
    weight_sum: float = 78.0
    w_max: float = 1.0
    w_init_max: float = 0.3
    # STDP (Diehl & Cook)
    nu_pre: float = 1e-4
    nu_post: float = 1e-2
    tau_pre: float = 20.0
    tau_post1: float = 20.0
    tau_post2: float = 40.0
    theta_plus: float = 0.2          # mV per spike
    stdp: str = "pair"               # "triplet": D&C code (w += nu_post x_pre x_post2); "pair": D&C
                                     # paper (w += nu_post (x_pre - x_tar))
    x_tar: float = 0.3

    def replace(self, **kw: Any) -> "SNNConfig":
        return SNNConfig(**{**asdict(self), **kw})

    # ----- IF_curr_exp parameter sets, as the IR takes them ---------------------------------------
    def exc_params(self, v_thresh: np.ndarray | float) -> dict[str, Any]:
        return {"tau_m": self.tau_m_e, "cm": self.cm_e, "v_rest": self.v_rest_e,
                "v_reset": self.v_reset_e, "v_thresh": v_thresh, "tau_refrac": self.tau_refrac_e,
                "tau_syn_E": self.tau_syn_E_e, "tau_syn_I": self.tau_syn_I_e, "i_offset": 0.0,
                "v_init": self.v_rest_e}

    def inh_params(self) -> dict[str, Any]:
        return {"tau_m": self.tau_m_i, "cm": self.cm_i, "v_rest": self.v_rest_i,
                "v_reset": self.v_reset_i, "v_thresh": self.v_thresh_i,
                "tau_refrac": self.tau_refrac_i, "tau_syn_E": self.tau_syn_E_i,
                "tau_syn_I": self.tau_syn_I_i, "i_offset": 0.0, "v_init": self.v_rest_i}


# Indices into the constants array passed to the kernels.
(C_VREST_E, C_VRESET_E, C_P22_E, C_P21E_E, C_P21I_E, C_DE_E, C_DI_E, C_REF_E,
 C_VREST_I, C_VRESET_I, C_VTH_I, C_P22_I, C_P21E_I, C_P21I_I, C_DE_I, C_DI_I, C_REF_I,
 C_WEI, C_WIE, C_GAIN, C_NU_PRE, C_NU_POST, C_DPRE, C_DPOST1, C_DPOST2, C_WMAX, C_THETA_PLUS,
 C_WSUM, C_PAIR, C_XTAR, C_N) = range(31)


def _propagators(tau_m: float, tau_s: float, cm: float) -> float:
    from neurocompile.ir.dynamics import psc_propagator

    return float(psc_propagator(np.array([tau_m]), np.array([tau_s]), np.array([cm]), 1.0)[0])


def kernel_constants(cfg: SNNConfig) -> np.ndarray:
    """Per-step constants computed exactly as the float simulator computes them (dt = 1 ms)."""
    c = np.zeros(C_N)
    c[C_VREST_E], c[C_VRESET_E] = cfg.v_rest_e, cfg.v_reset_e
    c[C_P22_E] = np.exp(-1.0 / np.array([cfg.tau_m_e]))[0]
    c[C_P21E_E] = _propagators(cfg.tau_m_e, cfg.tau_syn_E_e, cfg.cm_e)
    c[C_P21I_E] = _propagators(cfg.tau_m_e, cfg.tau_syn_I_e, cfg.cm_e)
    c[C_DE_E] = np.exp(-1.0 / np.array([cfg.tau_syn_E_e]))[0]
    c[C_DI_E] = np.exp(-1.0 / np.array([cfg.tau_syn_I_e]))[0]
    c[C_REF_E] = np.round(cfg.tau_refrac_e / 1.0)
    c[C_VREST_I], c[C_VRESET_I], c[C_VTH_I] = cfg.v_rest_i, cfg.v_reset_i, cfg.v_thresh_i
    c[C_P22_I] = np.exp(-1.0 / np.array([cfg.tau_m_i]))[0]
    c[C_P21E_I] = _propagators(cfg.tau_m_i, cfg.tau_syn_E_i, cfg.cm_i)
    c[C_P21I_I] = _propagators(cfg.tau_m_i, cfg.tau_syn_I_i, cfg.cm_i)
    c[C_DE_I] = np.exp(-1.0 / np.array([cfg.tau_syn_E_i]))[0]
    c[C_DI_I] = np.exp(-1.0 / np.array([cfg.tau_syn_I_i]))[0]
    c[C_REF_I] = np.round(cfg.tau_refrac_i / 1.0)
    c[C_WEI], c[C_WIE], c[C_GAIN] = cfg.w_ei, cfg.w_ie, cfg.input_gain_nA
    c[C_NU_PRE], c[C_NU_POST] = cfg.nu_pre, cfg.nu_post
    c[C_DPRE] = math.exp(-1.0 / cfg.tau_pre)
    c[C_DPOST1] = math.exp(-1.0 / cfg.tau_post1)
    c[C_DPOST2] = math.exp(-1.0 / cfg.tau_post2)
    c[C_WMAX], c[C_THETA_PLUS], c[C_WSUM] = cfg.w_max, cfg.theta_plus, cfg.weight_sum
    if cfg.stdp not in ("triplet", "pair"):
        raise ValueError(f"stdp must be 'triplet' or 'pair', got {cfg.stdp!r}")
    c[C_PAIR], c[C_XTAR] = float(cfg.stdp == "pair"), cfg.x_tar
    return c


# ----- numba kernels -----------------------------------------------------------------------------
@numba.njit(cache=True, inline="always")
def _splitmix(x):  # pragma: no cover - compiled
    x = x + np.uint64(0x9E3779B97F4A7C15)
    z = x
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return x, z ^ (z >> np.uint64(31))


@numba.njit(cache=True, inline="always")
def _xorshift(s):  # pragma: no cover - compiled
    s ^= s >> np.uint64(12)
    s ^= s << np.uint64(25)
    s ^= s >> np.uint64(27)
    u = ((s * np.uint64(2685821657736338717)) >> np.uint64(11)) * (1.0 / 9007199254740992.0)
    return s, u


@numba.njit(cache=True, nogil=True)
def _simulate(Wc, vth, p, steps, seed, raster, use_raster, c, counts,
              plastic, W, theta):  # pragma: no cover - compiled
    """Present one image to one module for `steps` steps; add exc spike counts into `counts`.

    Wc: (784, n) input currents (nA) used for propagation when not plastic; when plastic, the
    currents are c[C_GAIN] * W and W/theta are updated in place (STDP, adaptive threshold).
    Order per step t, as in the float simulator: sources emit; exc takes the input due at t,
    integrates, spikes; inh likewise; spikes are delivered at t + 1.
    """
    n_in, n = Wc.shape[0], Wc.shape[1]
    v_e = np.full(n, c[C_VREST_E])
    ie_e = np.zeros(n)
    ii_e = np.zeros(n)
    ref_e = np.zeros(n, np.int64)
    v_i = np.full(n, c[C_VREST_I])
    ie_i = np.zeros(n)
    ii_i = np.zeros(n)
    ref_i = np.zeros(n, np.int64)
    arr_in = np.zeros(n)
    arr_ie = np.zeros(n)
    arr_ei = np.zeros(n)
    spk_in = np.empty(n_in, np.int64)
    spk_e = np.empty(n, np.int64)
    spk_i = np.empty(n, np.int64)
    x_pre = np.zeros(n_in)
    x_post1 = np.zeros(n)
    x_post2 = np.zeros(n)
    ref_steps_e = np.int64(c[C_REF_E])
    ref_steps_i = np.int64(c[C_REF_I])
    gain = c[C_GAIN]
    pair = c[C_PAIR] > 0.5
    s = np.uint64(seed)
    s, z = _splitmix(s)
    s = z | np.uint64(1)
    for t in range(steps):
        # sources
        n_sp = 0
        if use_raster:
            for i in range(n_in):
                if raster[t, i]:
                    spk_in[n_sp] = i
                    n_sp += 1
        else:
            for i in range(n_in):
                s, u = _xorshift(s)
                if u < p[i]:
                    spk_in[n_sp] = i
                    n_sp += 1
        # excitatory neurons
        n_se = 0
        for j in range(n):
            ie_e[j] += arr_in[j]
            ii_e[j] += arr_ie[j]
            if ref_e[j] == 0:
                v_e[j] = (c[C_VREST_E] + (v_e[j] - c[C_VREST_E]) * c[C_P22_E] + ie_e[j] * c[C_P21E_E]
                          + ii_e[j] * c[C_P21I_E])
                th = vth[j] + theta[j] if plastic else vth[j]
                if v_e[j] >= th:
                    v_e[j] = c[C_VRESET_E]
                    ref_e[j] = ref_steps_e
                    spk_e[n_se] = j
                    n_se += 1
            else:
                ref_e[j] -= 1
            ie_e[j] *= c[C_DE_E]
            ii_e[j] *= c[C_DI_E]
        # inhibitory neurons
        n_si = 0
        for j in range(n):
            ie_i[j] += arr_ei[j]
            if ref_i[j] == 0:
                v_i[j] = (c[C_VREST_I] + (v_i[j] - c[C_VREST_I]) * c[C_P22_I] + ie_i[j] * c[C_P21E_I]
                          + ii_i[j] * c[C_P21I_I])
                if v_i[j] >= c[C_VTH_I]:
                    v_i[j] = c[C_VRESET_I]
                    ref_i[j] = ref_steps_i
                    spk_i[n_si] = j
                    n_si += 1
            else:
                ref_i[j] -= 1
            ie_i[j] *= c[C_DE_I]
            ii_i[j] *= c[C_DI_I]
        for k in range(n_se):
            counts[spk_e[k]] += 1
        # plasticity (Diehl & Cook STDP, adaptive threshold)
        if plastic:
            for i in range(n_in):
                x_pre[i] *= c[C_DPRE]
            for j in range(n):
                x_post1[j] *= c[C_DPOST1]
                x_post2[j] *= c[C_DPOST2]
            for a in range(n_sp):
                i = spk_in[a]
                x_pre[i] = 1.0
                for j in range(n):
                    w = W[i, j] - c[C_NU_PRE] * x_post1[j]
                    W[i, j] = w if w > 0.0 else 0.0
            for b in range(n_se):
                j = spk_e[b]
                for i in range(n_in):
                    if pair:
                        w = W[i, j] + c[C_NU_POST] * (x_pre[i] - c[C_XTAR])
                        w = w if w > 0.0 else 0.0
                    else:
                        w = W[i, j] + c[C_NU_POST] * x_pre[i] * x_post2[j]
                    W[i, j] = w if w < c[C_WMAX] else c[C_WMAX]
                x_post1[j] = 1.0
                x_post2[j] = 1.0
                theta[j] += c[C_THETA_PLUS]
        # deliver at t + 1
        for j in range(n):
            arr_in[j] = 0.0
            arr_ie[j] = 0.0
            arr_ei[j] = 0.0
        if plastic:
            for a in range(n_sp):
                i = spk_in[a]
                for j in range(n):
                    arr_in[j] += gain * W[i, j]
        else:
            for a in range(n_sp):
                i = spk_in[a]
                for j in range(n):
                    arr_in[j] += Wc[i, j]
        for b in range(n_se):
            arr_ei[spk_e[b]] += c[C_WEI]
        for b in range(n_si):
            k = spk_i[b]
            for j in range(n):
                if j != k:
                    arr_ie[j] += c[C_WIE]


@numba.njit(cache=True, parallel=True)
def _train_kernel(W, theta, vth, probs, order, seeds, steps, c, counts):  # pragma: no cover
    """Train modules in parallel. W (M, 784, n), theta (M, n), probs (M, n_img, 784),
    order (M, n_pres) image index per presentation (-1 = none), counts (M, n_pres) spikes."""
    M = W.shape[0]
    n_in, n = W.shape[1], W.shape[2]
    dummy_raster = np.zeros((1, 1), np.bool_)
    for m in numba.prange(M):
        buf = np.zeros(n, np.int64)
        for q in range(order.shape[1]):
            img = order[m, q]
            if img < 0:
                continue
            for j in range(n):       # normalise every neuron's input weights
                tot = 0.0
                for i in range(n_in):
                    tot += W[m, i, j]
                if tot > 0:
                    f = c[C_WSUM] / tot
                    for i in range(n_in):
                        W[m, i, j] *= f
            buf[:] = 0
            _simulate(W[m], vth, probs[m, img], steps, seeds[m, q], dummy_raster, False, c, buf,
                      True, W[m], theta[m])
            counts[m, q] = buf.sum()


@numba.njit(cache=True, parallel=True)
def _infer_kernel(Wc, vth, run_mod, run_img, probs, seeds, steps, c, raster, use_raster, counts):  # pragma: no cover
    """Frozen inference of R runs (image x module) in parallel -> counts (R, n)."""
    R = run_mod.shape[0]
    n = Wc.shape[2]
    zero_theta = np.zeros(n)
    for r in numba.prange(R):
        m = run_mod[r]
        buf = np.zeros(n, np.int64)
        _simulate(Wc[m], vth[m], probs[run_img[r]], steps, seeds[r],
                  raster[r] if use_raster else raster[0], use_raster, c, buf, False, Wc[m], zero_theta)
        counts[r] = buf


# ----- Python API --------------------------------------------------------------------------------
def spike_probabilities(images: np.ndarray, cfg: SNNConfig) -> np.ndarray:
    """Per-step spike probability of every input: rate = pixel / 255 * max_rate, p = rate * dt."""
    return input_rates(images, cfg) * 1.0 / 1000.0


def input_rates(images: np.ndarray, cfg: SNNConfig) -> np.ndarray:
    """Poisson rate (Hz) of every input neuron for each image: (n, 784)."""
    x = np.asarray(images, dtype=np.float64).reshape(len(images), -1)
    if x.shape[1] != N_INPUT:
        raise ValueError(f"images must have {N_INPUT} pixels, got {x.shape[1]}")
    return x / 255.0 * cfg.max_rate_hz


def _seeds(seed: int, *key: int, size: Any) -> np.ndarray:
    return np.random.default_rng(np.random.SeedSequence([int(seed), *key])).integers(
        0, 2**63 - 1, size=size, dtype=np.int64).astype(np.uint64)


@dataclass
class TrainedEnsemble:
    """The trained modules: weights, frozen thresholds, labels, and the readout (assignments)."""

    cfg: SNNConfig
    module_places: list[np.ndarray]      # global place indices each module learnt
    W: np.ndarray                        # (M, 784, n) unit weights in [0, w_max]
    theta: np.ndarray                    # (M, n) adaptive threshold at the end of training (mV)
    assignments: np.ndarray | None = None    # (M, n) global place index, -1 = unassigned
    ref_count: np.ndarray | None = None      # (M, n) reference images (of all) a neuron fires for
    hyperactive_threshold: int = 0           # chosen T: neurons with ref_count >= T removed; 0 = off
    calibration: dict[str, Any] = field(default_factory=dict)
    n_places: int = 0
    train_spikes: np.ndarray | None = None   # (M, n_pres) exc spikes per training presentation
    provenance: dict[str, Any] = field(default_factory=dict)   # trained or cached (not saved)

    @property
    def n_modules(self) -> int:
        return self.W.shape[0]

    @property
    def n_exc(self) -> int:
        return self.W.shape[2]

    def currents(self) -> np.ndarray:
        """Input->exc weights in nA, exactly as deployed (float64)."""
        return self.cfg.input_gain_nA * self.W

    def v_thresh(self) -> np.ndarray:
        """Per-neuron IF_curr_exp threshold: base threshold + frozen theta (mV)."""
        return self.cfg.v_thresh_e + self.theta

    def keep_mask(self, threshold: int | None = None) -> np.ndarray:
        """(M, n) neurons used by the readout: assigned and not hyperactive."""
        t = self.hyperactive_threshold if threshold is None else threshold
        keep = self.assignments >= 0
        if t > 0:
            keep &= self.ref_count < t
        return keep

    # ----- persistence ---------------------------------------------------------------------------
    def save(self, path: str | os.PathLike[str] | BinaryIO, cache_key: str = "") -> None:
        """Write the ensemble as .npz (no pickles) to a path (atomically) or an open binary file."""
        if not hasattr(path, "write"):
            from neurocompile.outdir import atomic_path

            with atomic_path(path) as tmp, open(tmp, "wb") as f:
                self.save(f, cache_key)
            return
        meta = {"cfg": asdict(self.cfg), "hyperactive_threshold": self.hyperactive_threshold,
                "calibration": self.calibration, "n_places": self.n_places,
                "state_version": STATE_VERSION, "cache_key": cache_key}
        np.savez(path, W=self.W, theta=self.theta,
                 assignments=self.assignments if self.assignments is not None else np.zeros(0),
                 ref_count=self.ref_count if self.ref_count is not None else np.zeros(0),
                 module_places=np.concatenate(self.module_places),
                 module_sizes=np.array([len(p) for p in self.module_places]),
                 meta=np.array(json.dumps(meta)))

    @classmethod
    def load(cls, path: str | os.PathLike[str], cache_key: str | None = None) -> "TrainedEnsemble":
        """Read a saved ensemble; raises ValueError when it is not one this code wrote for
        `cache_key` (when given) or its arrays do not fit together."""
        with np.load(path, allow_pickle=False) as z:
            meta = json.loads(str(z["meta"]))
            if meta.get("state_version") != STATE_VERSION:
                raise ValueError(f"state version {meta.get('state_version')!r}, expected {STATE_VERSION}")
            if cache_key is not None and meta.get("cache_key") != cache_key:
                raise ValueError(f"written for key {meta.get('cache_key')!r}, expected {cache_key!r}")
            sizes = z["module_sizes"]
            places = np.split(z["module_places"], np.cumsum(sizes)[:-1])
            ens = cls(SNNConfig(**meta["cfg"]), [p.astype(int) for p in places], z["W"], z["theta"],
                      z["assignments"] if z["assignments"].size else None,
                      z["ref_count"] if z["ref_count"].size else None,
                      meta["hyperactive_threshold"], meta["calibration"], meta["n_places"])
        M, n = len(ens.module_places), ens.cfg.n_exc
        shapes = [(ens.W.shape, (M, N_INPUT, n)), (ens.theta.shape, (M, n))]
        if ens.assignments is not None:
            shapes.append((ens.assignments.shape, (M, n)))
        if ens.ref_count is not None:
            shapes.append((ens.ref_count.shape, (M, n)))
        for got, want in shapes:
            if tuple(got) != want:
                raise ValueError(f"array of shape {tuple(got)}, expected {want}")
        if not (np.all(np.isfinite(ens.W)) and np.all(np.isfinite(ens.theta))):
            raise ValueError("non-finite weights or thresholds")
        return ens


def split_modules(n_places: int, places_per_module: int) -> list[np.ndarray]:
    """Consecutive places per module: [0..ppm), [ppm..2ppm), ... (the last may be shorter)."""
    if places_per_module < 1:
        raise ValueError("places_per_module must be >= 1")
    return [np.arange(a, min(a + places_per_module, n_places))
            for a in range(0, n_places, places_per_module)]


def train_modules(reference: list[np.ndarray], module_places: list[np.ndarray], cfg: SNNConfig,
                  seed: int = 0, progress: Callable[[int, int], None] | None = None) -> TrainedEnsemble:
    """Train every module on its places' images from all reference traverses (STDP, off-chip).

    reference: one (n_places, 28, 28) uint8 array per reference traverse. progress(done, total)
    is called after every epoch.
    """
    M, n = len(module_places), cfg.n_exc
    n_ref = len(reference)
    max_img = max(len(p) for p in module_places) * n_ref
    probs = np.zeros((M, max_img, N_INPUT))
    n_img = np.zeros(M, int)
    for m, places in enumerate(module_places):
        imgs = np.concatenate([r[places] for r in reference])
        probs[m, :len(imgs)] = spike_probabilities(imgs, cfg)
        n_img[m] = len(imgs)
    rng = np.random.default_rng(np.random.SeedSequence([int(seed), 0x7A11]))
    W = rng.random((M, N_INPUT, n)) * cfg.w_init_max + 0.01 * cfg.w_init_max   # D&C: (U + 0.01) * 0.3
    theta = np.zeros((M, n))
    order = -np.ones((M, cfg.epochs * max_img), np.int64)
    for m in range(M):
        order[m, :cfg.epochs * n_img[m]] = np.concatenate(
            [rng.permutation(n_img[m]) for _ in range(cfg.epochs)])
    seeds = _seeds(seed, 0x5EED, size=order.shape)
    counts = np.zeros(order.shape, np.int64)
    c = kernel_constants(cfg)
    vth = np.full(n, cfg.v_thresh_e)
    # One kernel call per epoch's worth of presentations (W and theta carry over, the state of a
    # presentation does not), so progress can be reported: the same result as one call.
    for e in range(cfg.epochs):
        cols = slice(e * max_img, (e + 1) * max_img)
        chunk = np.zeros((M, max_img), np.int64)
        _train_kernel(W, theta, vth, probs, np.ascontiguousarray(order[:, cols]),
                      np.ascontiguousarray(seeds[:, cols]), cfg.steps, c, chunk)
        counts[:, cols] = chunk
        if progress is not None:
            progress(e + 1, cfg.epochs)
    # Final normalisation, so the deployed weights are the ones the last presentation used.
    W *= cfg.weight_sum / np.maximum(W.sum(axis=1, keepdims=True), 1e-12)
    return TrainedEnsemble(cfg, [np.asarray(p) for p in module_places], W, theta,
                           n_places=int(sum(len(p) for p in module_places)), train_spikes=counts)


def infer(ens: TrainedEnsemble, images: np.ndarray, modules: np.ndarray | None = None,
          seed: int = 0, stream: int = 0, rasters: np.ndarray | None = None) -> np.ndarray:
    """Spike counts of every module's excitatory neurons for every image: (n_img, M, n) int.

    Frozen weights and thresholds, no plasticity. Each (image, module) run draws its own Poisson
    inputs (seeded by seed, stream, image index and module). `rasters` (n_img, M, steps, 784) bool replaces
    the Poisson draws by given input spike trains (used to reproduce a simulator run exactly).
    """
    modules = np.arange(ens.n_modules) if modules is None else np.asarray(modules, dtype=int)
    n_img, M, n = len(images), len(modules), ens.n_exc
    probs = spike_probabilities(images, ens.cfg)
    run_img = np.repeat(np.arange(n_img), M).astype(np.int64)
    run_mod = np.tile(modules, n_img).astype(np.int64)
    seeds = _seeds(seed, 0x1F, stream, size=(n_img, ens.n_modules))[run_img, run_mod]
    c = kernel_constants(ens.cfg)
    Wc = np.ascontiguousarray(ens.currents())
    vth = np.ascontiguousarray(ens.v_thresh())
    counts = np.zeros((n_img * M, n), np.int64)
    if rasters is not None:
        r = np.ascontiguousarray(rasters.reshape(n_img * M, ens.cfg.steps, N_INPUT), dtype=np.bool_)
        _infer_kernel(Wc, vth, run_mod, run_img, probs, seeds, ens.cfg.steps, c, r, True, counts)
    else:
        _infer_kernel(Wc, vth, run_mod, run_img, probs, seeds, ens.cfg.steps, c,
                      np.zeros((1, 1, 1), np.bool_), False, counts)
    return counts.reshape(n_img, M, n)


def assign_neurons(ens: TrainedEnsemble, ref_counts: list[np.ndarray]) -> None:
    """Label each neuron with its module's place it fires most for; record reference activity.

    ref_counts: per reference traverse, the (n_places, M, n) counts of every module for every
    place's reference image (all modules see all places, for the hyperactivity statistic).
    """
    stack = np.stack(ref_counts)                 # (n_ref, n_places, M, n)
    mean = stack.mean(axis=0)                    # (n_places, M, n)
    assign = -np.ones((ens.n_modules, ens.n_exc), np.int64)
    for m, places in enumerate(ens.module_places):
        rates = mean[places, m, :]               # (n_places_m, n)
        best = rates.argmax(axis=0)
        fired = rates.max(axis=0) > 0
        assign[m, fired] = places[best[fired]]
    ens.assignments = assign
    ens.ref_count = (stack > 0).sum(axis=(0, 1))       # (M, n) reference images fired for


def place_scores(ens: TrainedEnsemble, counts: np.ndarray, threshold: int | None = None) -> np.ndarray:
    """(n_query, n_places) scores: mean count of the kept neurons assigned to each place (0 if none)."""
    keep = ens.keep_mask(threshold).ravel()
    lab = ens.assignments.ravel()
    flat = counts.reshape(len(counts), -1)[:, keep].astype(np.float64)
    lab = lab[keep]
    A = np.zeros((lab.size, ens.n_places))
    A[np.arange(lab.size), lab] = 1.0
    n_per = A.sum(axis=0)
    return (flat @ A) / np.maximum(n_per, 1.0)


# Candidate thresholds T (reference images a neuron may fire for before it counts as hyperactive);
# 0 = no regularisation. The paper's grid is 0, 5, 10, 20, 40, ..., 200 for 3,300 places.
HYPERACTIVE_GRID = (0, 200, 100, 60, 40, 30, 20, 15, 12, 10, 8, 6, 5, 4, 3)


def calibrate_hyperactive(ens: TrainedEnsemble, cal_counts: np.ndarray, true_places: np.ndarray,
                          grid: tuple[int, ...] = HYPERACTIVE_GRID) -> int:
    """Choose T maximising Recall@1 on the calibration traverse; ties go to the earlier grid entry
    (no regularisation first, then larger T, i.e. fewer neurons removed)."""
    from neurocompile.models.place_recognition.evaluate import recall_at_n

    results = {}
    for t in grid:
        results[t] = recall_at_n(place_scores(ens, cal_counts, t), true_places, (1,))[1]
    best = max(grid, key=lambda t: (round(results[t], 9), -grid.index(t)))
    ens.hyperactive_threshold = int(best)
    ens.calibration = {"grid": list(grid), "recall@1": [results[t] for t in grid], "chosen": best,
                       "removed_fraction": float(1 - ens.keep_mask(best).sum()
                                                 / max(1, (ens.assignments >= 0).sum()))}
    return best


# Poisson streams of the inference runs (infer's `stream` argument).
STREAM_REFERENCE, STREAM_CALIBRATION, STREAM_QUERY = 1, 2, 3


@dataclass
class FitResult:
    ensemble: TrainedEnsemble
    ref_counts: list[np.ndarray]     # per reference traverse: (n_places, M, n) counts
    cal_counts: np.ndarray           # (n_places, M, n)
    timings: dict[str, float]


def fit(dataset: Any, cfg: SNNConfig, places_per_module: int = 25, seed: int = 0,
        progress: Callable[[int, int], None] | None = None) -> FitResult:
    """The paper's pipeline on a routes.Dataset: train every module (STDP) on the reference
    traverses, record every module's responses to every reference image, assign neurons, measure
    hyperactivity, choose the hyperactive-neuron threshold on the calibration traverse.

    progress(done, total): after every training epoch and every inference pass (the calibration
    passes count as steps after the epochs)."""
    import time

    t0 = time.perf_counter()
    refs = [r.images for r in dataset.reference]
    total = cfg.epochs + len(refs) + 1
    report = (lambda done, _n: progress(done, total)) if progress is not None else None
    ens = train_modules(refs, split_modules(dataset.n_places, places_per_module), cfg, seed, report)
    t1 = time.perf_counter()
    ref_counts = []
    for i, r in enumerate(refs):
        ref_counts.append(infer(ens, r, seed=seed, stream=STREAM_REFERENCE * 100 + i))
        if progress is not None:
            progress(cfg.epochs + i + 1, total)
    assign_neurons(ens, ref_counts)
    cal_counts = infer(ens, dataset.calibration.images, seed=seed, stream=STREAM_CALIBRATION)
    if progress is not None:
        progress(total, total)
    calibrate_hyperactive(ens, cal_counts, np.arange(dataset.n_places))
    t2 = time.perf_counter()
    return FitResult(ens, ref_counts, cal_counts, {"train": t1 - t0, "calibrate": t2 - t1})
