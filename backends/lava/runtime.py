"""Run built Lava processes: probes, a timeout, and no child process left behind. One job.

SELF-CONTAINED ON PURPOSE (numpy, lava and the standard library only): `export.py` copies this
source into the stand-alone `run_lava.py`.

Lava 0.10 runs every process in its own OS process (fork) and talks to them over shared memory;
a runtime that hangs (lava-nc/lava issues #231, #236, #826) blocks the caller in a receive that
never returns. So the whole Lava session (compile, spawn, run, read probes, stop) runs in a
daemon worker thread while the calling thread waits with a deadline. On a timeout, an error or a
Ctrl-C in the caller, every multiprocessing child started during the session (Lava's actors and
its SharedMemoryManager) is terminated, then killed if it does not exit within a second. The
blocked worker thread is a daemon: it cannot keep the interpreter alive.
"""
import multiprocessing
import threading
import time

import numpy as np


class LavaRunError(RuntimeError):
    """Lava failed, hung past the timeout, or was interrupted."""


def _kill_children(before):
    """Terminate, then kill, the multiprocessing children started since `before`."""
    new = [c for c in multiprocessing.active_children() if c.pid not in before]
    for c in new:
        try:
            c.terminate()
        except Exception:
            pass
    deadline = time.monotonic() + 1.0
    join = multiprocessing.Process.join   # Lava's SystemProcess.join takes no timeout
    for c in new:
        try:
            join(c, max(0.0, deadline - time.monotonic()))
            if c.is_alive():
                c.kill()
                join(c, 1.0)
        except Exception:
            pass
    return len(new)


def _session(built, steps, cfg, run_steps, record_state, progress, chunk, out):
    t0 = time.perf_counter()
    out["startup_s"] = out["run_s"] = out["read_s"] = 0.0
    spikes = [None] * len(built.lifs)
    us, vs = [None] * len(built.lifs), [None] * len(built.lifs)
    done_before = 0
    traces, weights = {}, {}
    for comp in built.components:
        root = built.lifs[comp[0]]
        try:
            t1 = time.perf_counter()
            root.create_runtime(run_cfg=cfg)   # compile + spawn one OS process per Lava process
            t2 = time.perf_counter()
            out["startup_s"] += t2 - t1
            done = 0
            while done < steps:
                n = min(chunk or steps, steps - done)
                root.run(condition=run_steps(num_steps=n))
                done += n
                if progress is not None:
                    progress(min(done_before + done, steps), steps)
            t3 = time.perf_counter()
            out["run_s"] += t3 - t2
            for i in comp:
                spikes[i] = np.asarray(built.sinks[i].data.get()).T[:steps] != 0
                if record_state:
                    us[i] = np.asarray(built.lifs[i].u.get()).astype(np.int64)
                    vs[i] = np.asarray(built.lifs[i].v.get()).astype(np.int64)
            for k, post_i, conn in getattr(built, "learning", ()):
                if post_i in comp:   # (post, pre) learnt weights after the last step
                    weights[k] = np.asarray(conn.weights.get()).astype(np.int64)
            for i, var, mon in built.monitors:
                if i in comp:   # (steps, n): the state after each step
                    data = mon.get_data()[built.lifs[i].name][var]
                    traces[(i, var)] = np.asarray(data).reshape(steps, -1).astype(np.int64)
            out["read_s"] += time.perf_counter() - t3
        finally:
            if root.runtime is not None:
                root.stop()
    out.update(spikes=spikes, u=us, v=vs, traces=traces, weights=weights, wall_s=time.perf_counter() - t0)


def run_config(select_tag="fixed_pt", hardware=False):
    """Loihi2SimCfg (Lava's bit-accurate CPU models), or with hardware=True Loihi2HwCfg, which
    needs Intel's lava-loihi extension: without it Lava would silently run CPU models, so refuse.
    The hardware path has never run here (no lava-loihi, no chip); lava-loihi's compiler then
    assigns cores itself: the compile's partition is not passed to it."""
    from lava.magma.core.run_configs import Loihi2HwCfg, Loihi2SimCfg

    if not hardware:
        return Loihi2SimCfg(select_tag=select_tag)
    from lava.utils import loihi

    if not loihi.is_installed():
        raise LavaRunError("hardware=true needs Intel's lava-loihi extension and access to a Loihi 2 "
                           "system (lava-loihi is not installed here); without it Lava would run its "
                           "CPU models")
    return Loihi2HwCfg()


def run_built(built, steps, timeout=None, progress=None, chunk=None, record_state=True,
              select_tag="fixed_pt", hardware=False):
    """Run `built` (processes.build) for `steps`; return dict spikes/u/v (lists by LIF index)
    and timings. Raises LavaRunError on a Lava error or after `timeout` seconds (None: no limit)."""
    from lava.magma.core.run_conditions import RunSteps

    cfg = run_config(select_tag, hardware)
    before = {c.pid for c in multiprocessing.active_children()}
    out, err = {}, []

    def work():
        try:
            _session(built, steps, cfg, RunSteps, record_state, progress, chunk, out)
        except BaseException as e:  # reported in the calling thread
            err.append(e)

    worker = threading.Thread(target=work, name="lava-session", daemon=True)
    ok = False
    try:
        worker.start()
        worker.join(timeout)
        if worker.is_alive():
            raise LavaRunError(f"the Lava runtime did not finish {steps} steps within the {timeout:g} s "
                               f"timeout (a hung Lava runtime: lava-nc issues #231/#236/#826); its "
                               f"processes were terminated")
        if err:
            e = err[0]
            raise LavaRunError(f"Lava failed: {type(e).__name__}: {e}") from e
        ok = True
        return out
    finally:
        if not ok:
            _kill_children(before)
