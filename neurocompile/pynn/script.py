"""`neurocompile compile script.py`: run a PyNN script on our backend and keep its network.

The script runs unchanged: `import pyNN.nest as sim` (or pyNN.spiNNaker, pyNN.neuron, ...) is
served by neurocompile.pynn while it runs, and the first `run()` stops the script with the network
it has declared so far (nothing is simulated). What the script does after `run()` (plots, reading
data) is not executed.
"""
from __future__ import annotations

import runpy
import sys
from pathlib import Path
from typing import Any

from neurocompile.errors import ModelError, NeurocompileError
from neurocompile.ir.network import Network

#: Module names a PyNN script may import its simulator as; all are served by neurocompile.pynn.
PYNN_BACKENDS = ("pyNN.nest", "pyNN.spiNNaker", "pyNN.neuron", "pyNN.brian2", "pyNN.mock",
                 "pyNN.arbor", "spynnaker.pyNN", "neurocompile.pynn")


class Captured(BaseException):
    """Raised by `run()` in capture mode; BaseException so a script's `except Exception` cannot eat it."""

    def __init__(self, network: Network, steps: int) -> None:
        super().__init__("network captured")
        self.network, self.steps = network, steps


def capture_script(path: str | Path, argv: list[str] | None = None) -> tuple[Network, int]:
    """(the network at the script's first run(), that run's steps). argv: the script's arguments."""
    import neurocompile.pynn as backend
    from neurocompile.pynn.simulator import state

    path = Path(path)
    if not path.is_file():
        raise NeurocompileError(f"PyNN script {str(path)!r} does not exist")
    saved_modules = {name: sys.modules.get(name) for name in PYNN_BACKENDS}
    saved_argv, saved_path = sys.argv, list(sys.path)
    for name in PYNN_BACKENDS:
        sys.modules[name] = backend
    sys.argv = [str(path), *(argv or [])]
    sys.path.insert(0, str(path.resolve().parent))
    state.capture = True
    try:
        runpy.run_path(str(path), run_name="__main__")
    except Captured as c:
        return c.network, c.steps
    except SystemExit as e:
        raise ModelError(f"PyNN script {str(path)!r} exited (code {e.code}) before calling run()") from None
    except NeurocompileError:
        raise
    except Exception as e:  # the user's script failed: say where, without our traceback
        tb = e.__traceback__
        line = None
        while tb is not None:
            if tb.tb_frame.f_code.co_filename == str(path):
                line = tb.tb_lineno
            tb = tb.tb_next
        where = f" at line {line}" if line else ""
        raise ModelError(f"PyNN script {str(path)!r} failed{where}: {type(e).__name__}: {e}") from None
    finally:
        state.capture = False
        sys.argv, sys.path[:] = saved_argv, saved_path
        for name, module in saved_modules.items():
            if module is None:
                sys.modules.pop(name, None)
            else:
                sys.modules[name] = module
    raise ModelError(f"PyNN script {str(path)!r} never called run(): there is no network to compile")


def _capture_hook(state: Any, steps: int) -> None:
    from neurocompile.pynn.lower import lower_network
    raise Captured(lower_network(state, steps).network, steps)
