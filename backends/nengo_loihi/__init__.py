"""`nengo_loihi`: run a network compiled for a Loihi 1 board in nengo-loihi 1.1's emulator.

lowering.py (IR -> LoihiBlock / Synapse / Axon / SpikeInput / LoihiProbe), run.py (the
`EmulatorInterface`, or `HardwareInterface` when NxSDK is importable). The emulator is the public
bit-accurate model of the Loihi 1 chip; the hardware path has never run here (NxSDK is not
public and there is no Loihi 1 board): it is refused unless nxsdk imports.
nengo-loihi 1.1.0 warns that nengo 4.1 is untested; the parts used here (block model, discretize,
emulator, probes) do not call into the nengo simulator and behave (tests/test_loihi1_bitexact.py).
"""
from __future__ import annotations

import warnings
from typing import Any, Callable

from neurocompile.plugins import Backend, Runner, Supports

INSTALL_HINT = ("install nengo-loihi 1.1 with `pip install 'neurocompile[loihi1]'` (or `pip install "
                "nengo-loihi==1.1.0 nengo==4.1.*`)")


def import_nengo_loihi() -> None:
    """Import nengo-loihi once, without its 'nengo 4.1 untested' warning (checked by our tests)."""
    from neurocompile.backends.nengo_loihi.run import NengoLoihiError

    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=".*has not been tested with your `nengo` version.*")
            import nengo_loihi  # noqa: F401
    except Exception as e:
        raise NengoLoihiError(f"nengo-loihi is not importable ({type(e).__name__}: {e}); {INSTALL_HINT}") from None


class NengoLoihiRunner(Runner):
    """Each run() builds a fresh emulator and runs from step 0."""

    def __init__(self, compiled: Any, seed: int, hardware: bool) -> None:
        self.compiled, self.seed, self.hardware = compiled, seed, hardware

    def run(self, steps: int, progress: Callable[[int, int], None] | None = None) -> Any:
        from neurocompile.backends.nengo_loihi.lowering import lower
        from neurocompile.backends.nengo_loihi.run import run_lowered

        result = run_lowered(lower(self.compiled.network), self.seed, steps, hardware=self.hardware)
        if progress is not None:
            progress(steps, steps)
        return result


class NengoLoihiBackend(Backend):
    name = "nengo_loihi"
    description = "nengo-loihi 1.1 EmulatorInterface (bit-accurate Loihi 1); hardware with NxSDK only"
    supports = Supports(families=("loihi1",), number_formats=("loihi1",), plasticity=False,
                        recording=("spikes", "u", "v"))

    def available(self) -> tuple[bool, str]:
        from neurocompile.backends.nengo_loihi.run import NengoLoihiError

        try:
            import_nengo_loihi()
        except NengoLoihiError as e:
            return False, str(e)
        return True, ""

    def build(self, compiled: Any, options: dict[str, Any]) -> NengoLoihiRunner:
        """Options: seed, hardware (needs NxSDK; refused without it)."""
        from neurocompile.backends.nengo_loihi.lowering import check_network

        import_nengo_loihi()
        check_network(compiled.network)
        return NengoLoihiRunner(compiled, int(options.get("seed", compiled.seed)),
                                bool(options.get("hardware", False)))


__all__ = ["NengoLoihiBackend", "NengoLoihiRunner", "INSTALL_HINT"]
