"""`loihi2` mode: bit-exact with Lava 0.10 `Loihi2SimCfg(select_tag="fixed_pt")`.

Every rule below was read in the installed lava-nc 0.10.0 source (paths relative to the `lava`
package) and is checked spike-for-spike and u/v against real Lava runs by
tests/test_loihi2_bitexact.py (through the lava backend, backends/lava, itself pinned by hand-built
Lava networks in tests/test_lava_backend.py).

Synapses (Dense / Sparse / DelayDense, `proc/dense/models.py`, `proc/sparse/models.py`):
- `AbstractPyDenseModelBitAcc.run_spk` (same code in `AbstractPySparseModelBitAcc.run_spk` and
  `PyDelayDenseModelBitAcc.run_spk`), on its first step: sign mode = `proc_params["sign_mode"]` or
  `utils/weightutils.py:determine_sign_mode` (min >= 0: EXCITATORY, elif max <= 0: INHIBITORY,
  else MIXED), then `clip_weights(w, sign_mode, num_bits=8)` (EXC [0, 255], INH [-255, 0],
  MIXED [-256, 255]) then `truncate_weights(w, sign_mode, num_weight_bits)`: drop the low
  `8 - num_weight_bits + (MIXED)` bits with an arithmetic shift pair (`(w >> k) << k`), on |w| for
  INHIBITORY (so towards zero), on w itself for MIXED (so towards -inf: -3 -> -4). We store the
  weights after exactly this, and warn when it changes a user's weight (the design rule "emit
  already-legal weights so nothing is silently changed"). `optimize_weight_bits` is a user-side
  helper that no process model calls at run time, so it plays no part here.
- per step: `a_accum = weights[:, s_in].sum(axis=1)` -- an int64 sum (numpy promotes int32 sums
  to int_), exact -- then `a_buff = left_shift(a_accum, weight_exp) if weight_exp > 0 else
  right_shift(a_accum, -weight_exp)`: weight_exp acts on the SUM (a floor shift for negative
  exponents), never per synapse. `a_buff` is sent on the next step: a spike at t reaches the
  neuron at t + 1 (IR delay 1).
- `a_out` is `LavaPyType(PyOutPort.VEC_DENSE, np.int32, precision=16)`; the channel buffer takes
  the source port's d_type (`compiler/subcompilers/channel_builders_factory.py:get_port_dtype`)
  and `compiler/channels/pypychannel.py:CspSendPort.send` copies with `self._array[idx][:] =
  data[:]`, i.e. the int64 value is wrapped to int32. No saturation to 16 bits anywhere (the
  declared precision is not enforced); num_message_bits = 0 (binary spikes) is the default and
  the only case we model.
- DelayDense (`PyDelayDenseModelBitAcc.run_spk`, `AbstractPyDelayDenseModel.calc_act`): delays
  0..63 (ValueError above), one int64 sum per (post, delay bucket) of this step's spikes, shifted
  per bucket, then added into the int32 `a_buff[:, d]` (wraps), sent at t + 1 + d. So with a
  negative weight_exp, contributions that arrive at the same step but were emitted at different
  steps are floor-shifted separately: floor(a/2^k) + floor(b/2^k), not floor((a+b)/2^k).
- Several connections into one LIF: `magma/core/model/py/ports.py:PyInPortVectorDense.recv`
  sums them as `np.zeros(shape, int16) + int32 + ...` -> int32 with wrap-around.

Engine mapping: one ring buffer (channel) per projection holding exact int64 raw sums. For a
projection whose delays are all equal, every value due at step t comes from one emission step, so
shifting at take time is exactly Lava's shift. For a projection with several delays and a negative
weight_exp the shift is done at scatter time per (emission step, delay bucket) by
`BucketShiftSynapses` (the engine's `build_synapses` hook); for weight_exp >= 0 a left shift is
linear (mod 2**32) so shifting at take time is exact as well. All int32 wrap-arounds above are
arithmetic mod 2**32, so wrapping the exact int64 sum once equals Lava's repeated wraps.

Neuron (`proc/lif/models.py:AbstractPyLifModelFixed.subthr_dynamics`, `PyLifModelBitAcc`):
    a    = wrap32(wrap32(sum_in) << 6)                 # act_shift = 6, int32 left_shift wraps
    p    = u * (4096 - (du + 1))                      # ds_offset = 1: du=0 still decays 1/4096
    u'   = wrap32(sign(p) * (|p| >> 12) + a)          # int32 += int32
    u    = u' - 2**24 if u' > 2**23 else (u' + 2**24 if u' <= -2**23 else u')   # once, not mod
    q    = v * (4096 - dv)                            # dm_offset = 0
    v    = clip(wrap32(sign(q) * (|q| >> 12) + u + bias), -(2**23 - 1), 2**23 - 1)
    bias = bias_mant << bias_exp, or >> -bias_exp when negative (`scale_bias`, every step)
    spike = v > (vth << 6)  (`PyLifModelBitAcc.scale_threshold`, `spiking_activation`: strict)
    v[spike] = 0 (`reset_voltage`); u is not reset; no refractory period.
u and v are int32 in Lava (`LavaPyType(np.ndarray, np.int32, precision=24)`); 24 bits are not
enforced beyond the one conditional wrap of u and the clip of v. Lava's du, dv, vth are
per-process scalars; here they may also be per-neuron arrays (elementwise, same formulas).
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Hashable

import numba
import numpy as np

from neurocompile.backends.sim.modes import NeuronGroup, NumericMode
from neurocompile.backends.sim.propagation import PreSortedSynapses
from neurocompile.errors import ModelError
from neurocompile.ir.network import Network, Population, Projection
# Lava's synapse arithmetic (sign modes, weight clipping) is the target's, shared with quantize.
from neurocompile.targets.loihi2.arith import (  # noqa: F401  (re-exported for tests and the lava backend)
    DECAY_UNITY, EXCITATORY, INHIBITORY, MAX_IR_DELAY, MIXED, LoihiWeightWarning, lava_weights, sign_mode)

# ----- synapses ---------------------------------------------------------------------------------
@numba.njit(cache=True, nogil=True)
def _scatter_row(spiking, indptr, post, weight, row):  # pragma: no cover - compiled
    """All synapses share one delay: add the spiking rows into one ring row; return #events."""
    n = 0
    for s in spiking:
        a, b = indptr[s], indptr[s + 1]
        n += b - a
        p, w = post[a:b], weight[a:b]
        for k in range(b - a):
            row[np.uintp(p[k])] += w[k]  # unsigned index: no negative-index wrap check
    return n


@numba.njit(cache=True, nogil=True)
def _scatter_delays(spiking, indptr, post, weight, delay, ring, t):  # pragma: no cover
    """Per-synapse delays (all < ring depth): no modulo in the inner loop; return #events."""
    depth = ring.shape[0]
    base = t % depth
    n = 0
    for s in spiking:
        a, b = indptr[s], indptr[s + 1]
        n += b - a
        for k in range(a, b):
            slot = base + delay[k]
            if slot >= depth:
                slot -= depth
            ring[np.uintp(slot), np.uintp(post[k])] += weight[k]
    return n


@numba.njit(cache=True, nogil=True)
def _scatter_bucket_shift(spiking, indptr, post, weight, bucket, bucket_delay, ring, t,
                          scratch, mark, touched, rshift):  # pragma: no cover - compiled
    """Sum this step's spikes per (delay bucket, post), floor-shift each sum, add to the ring."""
    depth = ring.shape[0]
    base = t % depth
    n_touched = 0
    n = 0
    n_post = scratch.shape[1]
    for s in spiking:
        a, b = indptr[s], indptr[s + 1]
        n += b - a
        for k in range(a, b):
            bk = bucket[k]
            p = post[k]
            if mark[bk, p] == 0:
                mark[bk, p] = 1
                touched[n_touched] = bk * n_post + p
                n_touched += 1
            scratch[bk, p] += weight[k]
    for j in range(n_touched):
        bk = touched[j] // n_post
        p = touched[j] % n_post
        slot = base + bucket_delay[bk]
        if slot >= depth:
            slot -= depth
        ring[slot, p] += scratch[bk, p] >> rshift
        scratch[bk, p] = 0
        mark[bk, p] = 0
    return n


class Loihi2Synapses(PreSortedSynapses):
    """PreSortedSynapses (same fields, so plasticity can update `weight` in place) with compact
    arrays (post uint16 up to 65,536 targets else int32; weight int16: Lava's weights are in
    [-256, 255] after clip_weights), rows
    sorted by post, and a scatter without a per-event modulo."""

    weight_dtype: type = np.int16   # Lava's weights after clip_weights; the loihi1 mode widens it

    @classmethod
    def build(cls, proj: Projection, n_pre: int, weight: np.ndarray,
              n_post: int = 2**31) -> "Loihi2Synapses":
        order = np.lexsort((proj.post_idx, proj.pre_idx))
        counts = np.bincount(proj.pre_idx, minlength=n_pre)
        indptr = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
        delay = proj.delay[order].astype(np.int64)
        post_dtype = np.uint16 if n_post <= 2**16 else np.int32  # fewer bytes streamed per event
        syn = cls(indptr, proj.post_idx[order].astype(post_dtype),
                  np.ascontiguousarray(np.asarray(weight)[order], dtype=cls.weight_dtype), delay, order)
        single = delay.size == 0 or delay.min() == delay.max()
        syn.const_delay = int(delay[0]) if delay.size and single else (1 if single else None)
        syn.delay32 = None if single else delay.astype(np.int32)
        return syn

    def scatter(self, spiking: np.ndarray, ring: np.ndarray, t: int) -> int:
        if not spiking.size:
            return 0
        if self.const_delay is not None:
            row = ring[(t + self.const_delay) % ring.shape[0]]
            return _scatter_row(spiking, self.indptr, self.post, self.weight, row)
        return _scatter_delays(spiking, self.indptr, self.post, self.weight, self.delay32, ring, t)


class BucketShiftSynapses(Loihi2Synapses):
    """DelayDense with weight_exp < 0: shift each (emission step, delay) bucket's sum separately."""

    @classmethod
    def build_shifted(cls, proj: Projection, n_pre: int, n_post: int, weight: np.ndarray,
                      rshift: int) -> "BucketShiftSynapses":
        syn = cls.build(proj, n_pre, weight, n_post)
        syn.bucket_delay, bucket = np.unique(syn.delay, return_inverse=True)
        syn.bucket = bucket.astype(np.int32)
        syn.rshift = int(rshift)
        syn.scratch = np.zeros((syn.bucket_delay.size, n_post), dtype=np.int64)
        syn.mark = np.zeros((syn.bucket_delay.size, n_post), dtype=np.uint8)
        syn.touched = np.zeros(syn.post.size, dtype=np.int64)
        return syn

    def scatter(self, spiking: np.ndarray, ring: np.ndarray, t: int) -> int:
        if not spiking.size:
            return 0
        return _scatter_bucket_shift(spiking, self.indptr, self.post, self.weight, self.bucket,
                                     self.bucket_delay, ring, t, self.scratch, self.mark,
                                     self.touched, self.rshift)


# ----- neurons ----------------------------------------------------------------------------------
@numba.njit(cache=True, nogil=True)
def _wrap32(x):  # pragma: no cover - compiled
    return ((x + 2147483648) & 4294967295) - 2147483648


@numba.njit(cache=True, nogil=True)
def _lif_step(u, v, act, exp, u_keep, v_keep, bias, vth_eff, out):  # pragma: no cover - compiled
    """One PyLifModelBitAcc step for every neuron; writes spiking indices to out, returns count.

    act: this step's summed input; exp: the weight_exp still to apply to it (one projection), or 0.
    """
    n_spk = 0
    for i in range(u.shape[0]):
        x = act[i]
        if exp > 0:
            x = x << exp
        elif exp < 0:
            x = x >> -exp
        a = _wrap32(_wrap32(x) << 6)
        p = u[i] * u_keep[i]
        dec = (p >> 12) if p >= 0 else -((-p) >> 12)
        c = _wrap32(dec + a)
        if c > 8388608:
            c -= 16777216
        elif c <= -8388608:
            c += 16777216
        u[i] = c
        q = v[i] * v_keep[i]
        decv = (q >> 12) if q >= 0 else -((-q) >> 12)
        vv = _wrap32(decv + c + bias[i])
        if vv > 8388607:
            vv = 8388607
        elif vv < -8388607:
            vv = -8388607
        if vv > vth_eff[i]:
            out[n_spk] = i
            n_spk += 1
            vv = 0
        v[i] = vv
    return n_spk


@dataclass
class _InputSpec:
    weight_exp: int
    pre_shifted: bool  # the synapses already applied weight_exp at scatter time


class Loihi2LIFGroup(NeuronGroup):
    state_vars = ("u", "v")

    def __init__(self, pop: Population, inputs: dict[Hashable, _InputSpec]) -> None:
        p = pop.param
        self.n = pop.size
        self.u = p("u_init").astype(np.int64).copy()
        self.v = p("v_init").astype(np.int64).copy()
        self.u_keep = DECAY_UNITY - (p("du") + 1)   # decay_unity - (du + ds_offset)
        self.v_keep = DECAY_UNITY - p("dv")         # decay_unity - (dv + dm_offset)
        mant, exp = p("bias_mant"), p("bias_exp")
        self.bias = np.where(exp >= 0, mant << np.maximum(exp, 0), mant >> np.maximum(-exp, 0))
        self.vth_eff = p("vth") << 6
        self._inputs = inputs
        self._act = np.zeros(self.n, dtype=np.int64)
        self._out = np.zeros(self.n, dtype=np.int64)

    def step(self, t: int, inputs: dict[Hashable, np.ndarray]) -> np.ndarray:
        if len(inputs) == 1:  # one projection: its shift is done inside the kernel
            key, act = next(iter(inputs.items()))
            spec = self._inputs[key]
            exp = 0 if spec.pre_shifted else spec.weight_exp
        else:
            act, exp = self._act, 0
            act[:] = 0
            for key, row in inputs.items():
                spec = self._inputs[key]
                e = spec.weight_exp
                if spec.pre_shifted or e == 0:
                    act += row
                elif e > 0:
                    act += row << e
                else:
                    act += row >> -e
        k = _lif_step(self.u, self.v, act, exp, self.u_keep, self.v_keep, self.bias,
                      self.vth_eff, self._out)
        return self._out[:k].copy()


class Loihi2Mode(NumericMode):
    name = "loihi2"
    accum_dtype = np.int64
    neuron_models = ("loihi2_lif",)

    def check(self, net: Network) -> None:
        super().check(net)
        for proj in net.projections.values():
            owner = f"projection {proj.name!r}"
            if proj.n_synapses and (proj.delay.min() < 1 or proj.delay.max() > MAX_IR_DELAY):
                raise ModelError(f"{owner}: delays must be 1..{MAX_IR_DELAY} steps on Loihi 2 "
                                 f"(DelayDense delays 0..63 + the one-step delivery), got "
                                 f"{int(proj.delay.min())}..{int(proj.delay.max())}")
            if proj.n_synapses and np.any(proj.weight != np.round(proj.weight)):
                raise ModelError(f"{owner}: the loihi2 mode takes integer weights; quantize first")
            nwb = proj.attrs.get("num_weight_bits", 8)
            if not (1 <= int(nwb) <= 8) or int(nwb) != nwb:
                raise ModelError(f"{owner}: num_weight_bits must be an integer 1..8, got {nwb!r}")
            exp = proj.attrs.get("weight_exp", 0)
            if int(exp) != exp:
                raise ModelError(f"{owner}: weight_exp must be an integer, got {exp!r}")

    def channel(self, proj: Projection) -> Hashable:
        # Lava shifts each connection process's sum separately: one buffer per projection.
        return ("proj", proj.name)

    def synapse_values(self, proj: Projection) -> np.ndarray:
        """The weights as Lava stores them after clip_weights + truncate_weights (int64)."""
        w = lava_weights(proj.weight, int(proj.attrs.get("num_weight_bits", 8)))
        changed = int(np.count_nonzero(w != proj.weight))
        if changed:
            warnings.warn(
                f"projection {proj.name!r}: Lava ({sign_mode(proj.weight)} sign mode, "
                f"num_weight_bits={int(proj.attrs.get('num_weight_bits', 8))}) changes "
                f"{changed} of {proj.n_synapses} weights (clip to 8 bits / drop low bits); the "
                f"loihi2 mode uses the changed values, as the chip would. Emit legal weights "
                f"to avoid this.", LoihiWeightWarning, stacklevel=2)
        return w

    @staticmethod
    def _pre_shifted(proj: Projection) -> bool:
        exp = int(proj.attrs.get("weight_exp", 0))
        return exp < 0 and proj.n_synapses > 0 and proj.delay.min() != proj.delay.max()

    def build_synapses(self, proj: Projection, n_pre: int, n_post: int) -> PreSortedSynapses:
        """Synapses whose scatter applies weight_exp per delay bucket when Lava does (see module doc)."""
        w = self.synapse_values(proj)
        if self._pre_shifted(proj):
            return BucketShiftSynapses.build_shifted(proj, n_pre, n_post, w,
                                                     -int(proj.attrs.get("weight_exp", 0)))
        return Loihi2Synapses.build(proj, n_pre, w, n_post)

    def make_group(self, pop: Population, incoming: list[Projection], net: Network) -> NeuronGroup:
        specs = {self.channel(p): _InputSpec(int(p.attrs.get("weight_exp", 0)), self._pre_shifted(p))
                 for p in incoming}
        return Loihi2LIFGroup(pop, specs)
