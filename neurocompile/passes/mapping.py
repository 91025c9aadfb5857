"""The mapping passes in pipeline order (partition -> placement -> routing -> resource check)."""
from __future__ import annotations

from neurocompile.passes.partition import partition
from neurocompile.passes.pipeline import NamedPass
from neurocompile.passes.placement import placement
from neurocompile.passes.resource_check import resource_check
from neurocompile.passes.routing import routing


def mapping_passes() -> list[NamedPass]:
    return [
        NamedPass("partition", partition, "split populations into core slices meeting every per-core limit"),
        NamedPass("placement", placement, "slices onto chips/cores, minimising inter-chip traffic x hops"),
        NamedPass("routing", routing, "multicast keys and routing tables (SpiNNaker), link traffic (Loihi)"),
        NamedPass("resource_check", resource_check, "every exceeded limit as one ResourceError"),
    ]
