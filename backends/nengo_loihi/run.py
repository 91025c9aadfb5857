"""Run a lowered network in nengo-loihi's emulator (or, with NxSDK, its hardware interface)."""
from __future__ import annotations

import time
import warnings

import numpy as np

from neurocompile.backends.nengo_loihi.lowering import Lowered, add_sources
from neurocompile.backends.sim.engine import SimResult
from neurocompile.errors import NeurocompileError


class NengoLoihiError(NeurocompileError):
    """nengo-loihi is missing, failed, or the hardware was asked for without NxSDK."""


def nxsdk_available() -> bool:
    from nengo_loihi.hardware.nxsdk_shim import nxsdk

    return nxsdk is not None


def run_lowered(low: Lowered, seed: int, steps: int, hardware: bool = False) -> SimResult:
    """Spikes of every population, u/v probes, final u/v of every block after `steps` steps."""
    if steps < 1:
        raise NengoLoihiError(f"steps must be >= 1, got {steps}")
    src = add_sources(low, seed, steps)
    t0 = time.perf_counter()
    if hardware:
        if not nxsdk_available():
            raise NengoLoihiError("hardware=true needs Intel's NxSDK (0.9.x, not public) and a Loihi 1 "
                                  "system; nxsdk is not importable here. Without it use the emulator "
                                  "(the default)")
        from nengo_loihi.hardware import HardwareInterface  # pragma: no cover - needs NxSDK

        iface = HardwareInterface(low.model, seed=seed)   # pragma: no cover - never run here
    else:
        from nengo_loihi.emulator import EmulatorInterface

        with warnings.catch_warnings():   # its np.full(nan, dtype=int32) placeholders, overwritten at once
            warnings.filterwarnings("ignore", "invalid value encountered in cast", RuntimeWarning)
            iface = EmulatorInterface(low.model, seed=seed)
        comp, info = iface.compartment, iface.block_info
        for name, block in low.blocks.items():   # initial state: the IR's u_init, v_init
            sl = info.slices[block]
            pop = low.net.populations[name]
            comp.current[sl] = pop.param("u_init").astype(np.int32)
            comp.voltage[sl] = pop.param("v_init").astype(np.int32)
    with iface:
        iface.run_steps(steps)
        data = {key: np.asarray(iface.collect_probe_output(p)) for key, p in low.probes.items()}
        final = {}
        if not hardware:
            for name, block in low.blocks.items():
                sl = iface.block_info.slices[block]
                final[name] = {"u": iface.compartment.current[sl].astype(np.int64),
                               "v": iface.compartment.voltage[sl].astype(np.int64)}
    wall = time.perf_counter() - t0
    spikes, traces = dict(src), {}
    for (name, var), arr in data.items():
        if var == "spikes":
            st, ids = np.nonzero(arr.reshape(steps, -1))
            spikes[name] = (st.astype(np.int32), ids.astype(np.int32))
        else:
            traces.setdefault(name, {})[var] = arr.reshape(steps, -1).astype(np.int64)
    return SimResult(steps, seed, "nengo-loihi-hardware" if hardware else "nengo-loihi-emulator",
                     low.net.dt_ms, spikes, traces, final, 0, wall)
