"""Shared helpers for the partition / placement / routing / resource-check tests."""
from __future__ import annotations

import copy
import dataclasses
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from neurocompile.boards import load_board
from neurocompile.boards.schema import Board, parse_board
from neurocompile.ir.network import Network
from neurocompile.passes.mapping import mapping_passes
from neurocompile.passes.pipeline import CompileContext, run_pipeline


def custom_board(base: str, core_limits: dict | None = None, chip_limits: dict | None = None,
                 mapping: dict | None = None, **top: Any) -> Board:
    """A bundled board with some fields changed (parsed by the real schema), plus its mapping."""
    src = load_board(base).source_file
    data = yaml.safe_load(Path(src).read_text())
    data = copy.deepcopy(data)
    for k, v in (core_limits or {}).items():
        if v is None:
            data["core_limits"].pop(k, None)
        else:
            data["core_limits"][k] = v
    for k, v in (chip_limits or {}).items():
        data["chip_limits"][k] = v
    data["name"] = f"{base}-custom"
    data.update(top)
    board = parse_board(data, f"{base}-custom.yaml")
    m = dict(board.mapping)
    m.update(mapping or {})
    return dataclasses.replace(board, mapping=m)


def run_mapping(net: Network, board: Board | str, seed: int = 0, **options: Any) -> CompileContext:
    """Run the four mapping passes; ResourceError propagates."""
    b = load_board(board) if isinstance(board, str) else board
    ctx = CompileContext(board=b, seed=seed, options=dict(options))
    run_pipeline(net, mapping_passes(), ctx)
    return ctx


def run_partial(net: Network, board: Board | str, upto: str, seed: int = 0, **options: Any) -> CompileContext:
    b = load_board(board) if isinstance(board, str) else board
    ctx = CompileContext(board=b, seed=seed, options=dict(options))
    passes = []
    for p in mapping_passes():
        passes.append(p)
        if p.name == upto:
            break
    run_pipeline(net, passes, ctx)
    return ctx


def clustered_network(n_clusters: int = 12, cluster: int = 128, fan_in: int = 40, seed: int = 0,
                      shuffle: bool = True, rate: float = 10.0) -> tuple[Network, np.ndarray]:
    """One population made of dense clusters; with shuffle the clusters are spread over the index
    range (so contiguous slicing cuts them). Returns the network and the cluster of each neuron."""
    rng = np.random.default_rng(seed)
    n = n_clusters * cluster
    perm = rng.permutation(n) if shuffle else np.arange(n)
    members = perm.reshape(n_clusters, cluster)
    net = Network(name="clustered", seed=seed)
    net.add_population("in", 64, "poisson", {"rate": rate})
    net.add_population("exc", n)
    pre, post = [], []
    for c in members:
        pre.append(rng.choice(c, cluster * fan_in))
        post.append(np.repeat(c, fan_in))
    net.add_projection("exc", "exc", np.concatenate(pre), np.concatenate(post), 0.05, 1)
    net.add_projection("in", "exc", rng.integers(0, 64, n * 2), np.repeat(np.arange(n), 2), 0.1, 1)
    cl = np.empty(n, dtype=np.int64)
    for i, c in enumerate(members):
        cl[c] = i
    return net, cl


def modular_network(n_modules: int = 8, size: int = 200, fan_in: int = 30, seed: int = 0,
                    shuffle_order: bool = True) -> Network:
    """Populations that talk mostly to one partner: module i <-> module pair(i). With
    shuffle_order the partners are declared far apart (connectivity-blind placement suffers)."""
    rng = np.random.default_rng(seed)
    net = Network(name="modular", seed=seed)
    names = [f"m{i}" for i in range(n_modules)]
    order = rng.permutation(n_modules) if shuffle_order else np.arange(n_modules)
    for i in order:
        net.add_population(names[i], size)
    for i in range(n_modules):
        partner = i ^ 1
        for src in (i, partner):
            pre = rng.integers(0, size, size * fan_in)
            post = np.repeat(np.arange(size), fan_in)
            net.add_projection(names[src], names[i], pre, post, 0.05, 1, name=f"{names[src]}->{names[i]}")
    return net
