"""neurocompile as a PyNN 0.13 backend: change a script's import line and it runs on our targets.

    import neurocompile.pynn as sim          # instead of pyNN.nest or pyNN.spiNNaker
    sim.setup(timestep=0.1, board="loihi2-oheo-gulch")

`run` compiles the network for the board (every pass: quantization, partitioning, placement,
routing) and simulates it in that board's arithmetic (or on `setup(backend="lava")`); `get_data`
returns neo Blocks as other PyNN backends do. Built on `pyNN.common` like pyNN.mock; see
docs/pynn.md for what is supported and how it differs from NEST.
"""
from pyNN import errors, random, space  # noqa: F401
from pyNN.connectors import *  # noqa: F401,F403
from pyNN.network import Network  # noqa: F401
from pyNN.random import GSLRNG, NumpyRNG, RandomDistribution  # noqa: F401
from pyNN.recording import *  # noqa: F401,F403
from pyNN.space import Space  # noqa: F401
from pyNN.standardmodels import StandardCellType

from neurocompile.pynn.control import (end, get_current_time, get_max_delay, get_min_delay,  # noqa: F401
                                       get_time_step, initialize, num_processes, rank, reset, run,
                                       run_for, run_until, setup)
from neurocompile.pynn.populations import Assembly, Population, PopulationView  # noqa: F401
from neurocompile.pynn.procedural_api import connect, create, record, record_gsyn, record_v  # noqa: F401
from neurocompile.pynn.projections import Projection  # noqa: F401
from neurocompile.pynn.standardmodels import *  # noqa: F401,F403


def list_standard_models() -> list[str]:
    """The standard cell types this backend runs (the refused ones are importable but fail)."""
    from neurocompile.pynn.standardmodels import SUPPORTED_CELLS
    return [name.strip() for name in SUPPORTED_CELLS.split(",")]


def compiled():
    """The CompiledNetwork of the last `run` (report, placement, quantization), or None."""
    from neurocompile.pynn.simulator import state
    return state.compiled
