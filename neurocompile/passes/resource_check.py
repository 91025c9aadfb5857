"""Resource check: every exceeded limit, before any backend runs, as one ResourceError.

Collected from the partition (unsplittable neurons; every slice re-evaluated against every
per-core limit), the placement (cores on the board, cores and SDRAM per chip) and the routing
(routing table entries per chip, routing key bits). Each violation names the population, slice,
projection or chip, the resource, the amount needed, the limit and a hint, e.g.
"population 'exc' slice 3 needs 1,310,720 bits of synapse memory on one core but
loihi1-nahuku-32 allows 1,048,576 per core; hint: ...". All violations are kept in
`ctx.violations` (and the report); the error message lists up to 10.
"""
from __future__ import annotations

import numpy as np

from neurocompile.errors import ResourceError
from neurocompile.ir.network import Network
from neurocompile.passes.partition import Partition
from neurocompile.passes.pipeline import CompileContext
from neurocompile.passes.placement import PlacementResult, chip_capacity, slice_demands
from neurocompile.passes.resources import HINTS, Target, Violation, target_of
from neurocompile.passes.routing import RoutingResult

MAX_LISTED = 10


def _slice_subject(part: Partition, pop: str, j: int) -> str:
    s = part.slices_of(pop)[j]
    r = s.ranges()
    span = f"neurons {r[0][0]}..{r[0][1]}" if len(r) == 1 else f"{s.n_neurons} neurons in {len(r)} runs"
    return f"population {pop!r} slice {j} ({span})"


def collect_violations(net: Network, ctx: CompileContext) -> list[Violation]:
    part: Partition | None = ctx.partition
    t: Target = ctx.target or target_of(ctx.board)
    out: list[Violation] = []
    if part is None:
        return out
    out.extend(part.violations)
    unsplit = {(v.population, v.resource) for v in part.violations if v.unsplittable}
    for pop, u in part.usage.items():
        for r, bad in u.violations().items():
            if (pop, r) in unsplit:
                continue
            for j in np.flatnonzero(bad):
                subject = _slice_subject(part, pop, int(j))
                where = "on one core"
                if r == "delay_steps":
                    lim = int(u.limits[r][j])
                    projs = [p.name for p in net.projections_into(pop) if p.n_synapses and int(p.delay.max()) > lim]
                    subject = f"projection {projs[0]!r} into {subject}" if projs else subject
                    where = f"on one core holding {int(u.sizes[j])} neurons"
                per = "per chip" if r == "sdram_bytes" else "per core"
                out.append(Violation(subject, r, float(u.usage[r][j]), float(u.limits[r][j]), where, per,
                                     t.name, HINTS.get(r, ""), population=pop))
    pl: PlacementResult | None = ctx.placement
    if pl is not None:
        dem_c, dem_s = slice_demands(part, t)
        cap = chip_capacity(t, pl.grid)
        too_big = (dem_c > cap.max(initial=0)) | (dem_s > (t.sdram_bytes if t.sdram_bytes is not None else np.inf))
        unplaced = pl.unplaced[~too_big[pl.unplaced]]  # a slice too big for any chip is reported above
        if unplaced.size:
            need = int(dem_c.sum())
            have = int(cap.sum())
            sizes = sorted(((sum(s.n_neurons for s in part.slices_of(p)), p) for p in part.labels), reverse=True)
            biggest = ", ".join(f"{p!r} ({n:,} neurons)" for n, p in sizes[:3])
            if need > have:
                hint = f"use a larger board or fewer neurons; largest populations: {biggest}"
            else:
                hint = (f"the cores exist but SDRAM per chip ({t.sdram_bytes:,} bytes) lets only "
                        f"{need - int(dem_c[unplaced].sum()):,} of them be used; " + HINTS["sdram_bytes"])
            out.append(Violation(f"network {net.name!r} ({len(part.slices):,} slices)", "cores", need, have,
                                 "on the board", f"({pl.grid.n_chips} chips)", t.name, hint))
        placed = pl.chip_of >= 0
        used_c = np.bincount(pl.chip_of[placed], weights=dem_c[placed], minlength=pl.grid.n_chips)
        for c in np.flatnonzero(used_c > cap):
            out.append(Violation(f"chip {pl.grid.chip_name(int(c))}", "cores", float(used_c[c]), float(cap[c]),
                                 "on one chip", "per chip", t.name, HINTS["cores"]))
        if t.sdram_bytes is not None:
            used_s = np.bincount(pl.chip_of[placed], weights=dem_s[placed], minlength=pl.grid.n_chips)
            for c in np.flatnonzero(used_s > t.sdram_bytes):
                out.append(Violation(f"chip {pl.grid.chip_name(int(c))}", "sdram_bytes", float(used_s[c]),
                                     float(t.sdram_bytes), "on one chip", "per chip", t.name, HINTS["sdram_bytes"]))
    rt: RoutingResult | None = ctx.routing
    if rt is not None:
        out.extend(rt.violations)
    return out


def format_violations(violations: list[Violation], board: str) -> str:
    if len(violations) == 1:
        return violations[0].message()
    listed = " | ".join(v.message() for v in violations[:MAX_LISTED])
    more = f" | ... and {len(violations) - MAX_LISTED} more (see report.json)" if len(violations) > MAX_LISTED else ""
    return f"{len(violations)} resource limits exceeded on {board}: {listed}{more}"


def resource_check(net: Network, ctx: CompileContext) -> Network:
    """Pass: raise one ResourceError listing every exceeded limit (artefact `violations`)."""
    violations = collect_violations(net, ctx)
    ctx.violations = violations
    if violations:
        raise ResourceError(format_violations(violations, ctx.board.name))
    part = ctx.partition
    ctx.info(f"all per-core, per-chip and routing limits of {ctx.board.name} met"
             + (f" ({len(part.slices):,} slices)" if part is not None else ""))
    return net
