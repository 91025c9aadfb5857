"""Build Lava 0.10 processes from a lowered network (plain numpy arrays): one job, no policy.

SELF-CONTAINED ON PURPOSE: this module imports only numpy and lava, because `export.py` copies
its source verbatim into the stand-alone `run_lava.py` it writes (so the exported script and the
backend build the network with the same code). Do not import neurocompile here.

The arrays (keys below; `lowering.py` makes them, `network.npz` stores them):
  n_lif, n_src, n_conn                    0-d ints
  lif{i}_size, lif{i}_{u,v,du,dv,vth,bias_mant,bias_exp}   per-neuron int64 arrays
  lif{i}_record                           optional: state variables ("u", "v") to trace per step
  src{j}_size; src{j}_t, src{j}_n         spike steps and neuron ids of the precomputed raster
  conn{k}_kind                            dense | sparse | delay_dense | delay_sparse
  conn{k}_pre, conn{k}_post               "lif{i}" / "src{j}"
  conn{k}_rows, _cols, _w, _d             post index, pre index, weight, Lava delay (IR delay - 1)
  conn{k}_exp, _nwb, _sign                weight_exp, num_weight_bits, excitatory|inhibitory|mixed
  kind learning_dense (a plastic projection, backends/lava/learning.py makes these):
  conn{k}_dw                              Loihi2FLearningRule's dw string
  conn{k}_{x1,y1}_{impulse,tau}, _rng_seed  its traces (tau in steps) and random seed (t_epoch 1)
  conn{k}_bap_delay                       the post spikes reach the rule this many steps late,
                                          through a relay LIF (the IR's dendritic delay)
Step mapping (read in lava 0.10 `proc/io/source.py`, `proc/io/sink.py`, `magma/core/model/py/
model.py`): Lava's time_step is 1 during the first step of a run and the ring buffers use column
`time_step - 1`, so our step k is column k of the source data and of the sink buffer.
"""
import numpy as np

LIF_PARAMS = ("u", "v", "du", "dv", "vth", "bias_mant", "bias_exp")
SCALAR_PARAMS = ("du", "dv", "vth")   # Lava documents these as scalars: pass one when uniform


def lava_classes():
    from lava.magma.core.run_conditions import RunSteps
    from lava.magma.core.run_configs import Loihi2SimCfg
    from lava.proc.dense.process import DelayDense, Dense
    from lava.proc.io.sink import RingBuffer as Sink
    from lava.proc.io.source import RingBuffer as Source
    from lava.proc.lif.process import LIF
    from lava.proc.sparse.process import DelaySparse, Sparse
    from lava.utils.weightutils import SignMode
    from lava.magma.core.learning.learning_rule import Loihi2FLearningRule
    from lava.proc.dense.process import LearningDense

    return dict(RunSteps=RunSteps, Loihi2SimCfg=Loihi2SimCfg, Dense=Dense, DelayDense=DelayDense,
                Sparse=Sparse, DelaySparse=DelaySparse, Sink=Sink, Source=Source, LIF=LIF,
                SignMode=SignMode, LearningDense=LearningDense, Loihi2FLearningRule=Loihi2FLearningRule)


def _int(a, key):
    return int(np.asarray(a[key]))


def _str(a, key):
    return str(np.asarray(a[key]))


class Built:
    """The Lava processes of one lowered network, and its connected components."""

    def __init__(self):
        self.lifs, self.sinks, self.sources, self.conns = [], [], [], []
        self.components = []        # lists of lif indices; each is run by its first LIF
        self.source_rasters = []    # (steps, n) bool per source, as fed to Lava
        self.monitors = []          # (lif index, variable, lava.proc.monitor Monitor)
        self.learning = []          # (conn index, post lif index, LearningDense): weights read back
        self.relays = []            # relay LIFs that delay post spikes into a rule (s_in_bap)


def post_relay(lv, b, post_proc, delay, name):
    """A LIF that spikes `delay` steps after each spike of `post_proc` (Dense/DelayDense delivers at
    t + 1 + lava delay; du = dv = 4095 and vth = 0: one input of weight 1 makes one spike)."""
    n = post_proc.a_in.shape[0]
    relay = lv["LIF"](shape=(n,), u=0, v=0, du=4095, dv=4095, vth=0, bias_mant=0, bias_exp=0,
                      name=f"{name}_relay")
    eye = np.eye(n, dtype=np.int32)
    kw = dict(weight_exp=0, num_weight_bits=8, sign_mode=lv["SignMode"].EXCITATORY, name=f"{name}_relay_in")
    link = (lv["Dense"](weights=eye, **kw) if delay == 1 else
            lv["DelayDense"](weights=eye, delays=np.where(eye > 0, delay - 1, 0).astype(np.int64), **kw))
    post_proc.s_out.connect(link.s_in)
    link.a_out.connect(relay.a_in)
    b.relays.append(relay)
    return relay


def learning_rule(lv, a, k):
    def f(key):
        return float(np.asarray(a[f"conn{k}_{key}"]))

    return lv["Loihi2FLearningRule"](dw=_str(a, f"conn{k}_dw"), x1_impulse=f("x1_impulse"),
                                     x1_tau=f("x1_tau"), y1_impulse=f("y1_impulse"), y1_tau=f("y1_tau"),
                                     t_epoch=1, rng_seed=_int(a, f"conn{k}_rng_seed"))


def source_raster(a, j, steps):
    n = _int(a, f"src{j}_size")
    t, nid = np.asarray(a[f"src{j}_t"], dtype=np.int64), np.asarray(a[f"src{j}_n"], dtype=np.int64)
    keep = t < steps
    r = np.zeros((steps, n), dtype=bool)
    r[t[keep], nid[keep]] = True
    return r


def build(a, steps):
    """Create every process and connect them; nothing runs yet."""
    lv = lava_classes()
    b = Built()
    for i in range(_int(a, "n_lif")):
        n = _int(a, f"lif{i}_size")
        p = {k: np.asarray(a[f"lif{i}_{k}"], dtype=np.int64) for k in LIF_PARAMS}
        for k in SCALAR_PARAMS:
            if p[k].size and np.all(p[k] == p[k][0]):
                p[k] = int(p[k][0])
        lif = lv["LIF"](shape=(n,), u=p["u"], v=p["v"], du=p["du"], dv=p["dv"], vth=p["vth"],
                        bias_mant=p["bias_mant"], bias_exp=p["bias_exp"], name=f"lif{i}")
        sink = lv["Sink"](shape=(n,), buffer=steps)
        lif.s_out.connect(sink.a_in)
        for var in (str(x) for x in np.atleast_1d(a.get(f"lif{i}_record", np.array([], dtype=str)))):
            from lava.proc.monitor.process import Monitor

            mon = Monitor()
            mon.probe(target=getattr(lif, var), num_steps=steps)
            b.monitors.append((i, var, mon))
        b.lifs.append(lif)
        b.sinks.append(sink)
    for j in range(_int(a, "n_src")):
        r = source_raster(a, j, steps)
        b.source_rasters.append(r)
        b.sources.append(lv["Source"](data=r.T.astype(np.int32)))
    signs = {"excitatory": lv["SignMode"].EXCITATORY, "inhibitory": lv["SignMode"].INHIBITORY,
             "mixed": lv["SignMode"].MIXED}
    parent = list(range(len(b.lifs)))
    src_posts = {}   # source index -> LIF indices it feeds (a source joins all their components)

    def find(x):
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for k in range(_int(a, "n_conn")):
        kind, pre, post = _str(a, f"conn{k}_kind"), _str(a, f"conn{k}_pre"), _str(a, f"conn{k}_post")
        pre_proc = b.lifs[int(pre[3:])] if pre.startswith("lif") else b.sources[int(pre[3:])]
        post_i = int(post[3:])
        post_proc = b.lifs[post_i]
        shape = (post_proc.a_in.shape[0], pre_proc.s_out.shape[0])
        rows = np.asarray(a[f"conn{k}_rows"], dtype=np.int64)
        cols = np.asarray(a[f"conn{k}_cols"], dtype=np.int64)
        w = np.asarray(a[f"conn{k}_w"], dtype=np.int64)
        d = np.asarray(a[f"conn{k}_d"], dtype=np.int64)
        kw = dict(weight_exp=_int(a, f"conn{k}_exp"), num_weight_bits=_int(a, f"conn{k}_nwb"),
                  sign_mode=signs[_str(a, f"conn{k}_sign")], name=f"conn{k}")
        if kind in ("sparse", "delay_sparse"):
            from scipy.sparse import csr_matrix

            mat = csr_matrix((w, (rows, cols)), shape=shape, dtype=np.int64)
            if kind == "sparse":
                conn = lv["Sparse"](weights=mat, **kw)
            else:
                # same sparsity pattern as the weights (a stored 0 delay stays an entry)
                dmat = csr_matrix((d + 1, (rows, cols)), shape=shape, dtype=np.int64)
                dmat.data -= 1
                conn = lv["DelaySparse"](weights=mat, delays=dmat, **kw)
        else:
            mat = np.zeros(shape, dtype=np.int32)   # int32 like the process Var
            mat[rows, cols] = w
            if kind == "learning_dense":
                conn = lv["LearningDense"](weights=mat, learning_rule=learning_rule(lv, a, k), **kw)
                relay = post_relay(lv, b, post_proc, _int(a, f"conn{k}_bap_delay"), f"conn{k}")
                relay.s_out.connect(conn.s_in_bap)
                b.learning.append((k, post_i, conn))
            elif kind == "dense":
                conn = lv["Dense"](weights=mat, **kw)
            else:
                dmat = np.zeros(shape, dtype=np.int64)
                dmat[rows, cols] = d
                conn = lv["DelayDense"](weights=mat, delays=dmat, **kw)
        pre_proc.s_out.connect(conn.s_in)
        conn.a_out.connect(post_proc.a_in)
        b.conns.append(conn)
        if pre.startswith("lif"):
            parent[find(int(pre[3:]))] = find(post_i)
        else:
            src_posts.setdefault(int(pre[3:]), []).append(post_i)
    for posts in src_posts.values():
        for p in posts[1:]:
            parent[find(p)] = find(posts[0])
    comps = {}
    for i in range(len(b.lifs)):
        comps.setdefault(find(i), []).append(i)
    b.components = list(comps.values())
    return b
