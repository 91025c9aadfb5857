"""Compiler passes: each (IR, context) -> IR, run in order by `run_pipeline`."""
from neurocompile.passes.delays import legalize_delays
from neurocompile.passes.mapping import mapping_passes
from neurocompile.passes.pipeline import CompileContext, Diagnostic, NamedPass, run_pipeline
from neurocompile.passes.validation import validate
from neurocompile.targets import family_of


def quantize(net, ctx):
    """Lower to the board's number format; option quantize=False keeps the network float."""
    if ctx.options.get("quantize", True) is False:
        ctx.info("quantization skipped (option quantize=False): the network stays float")
        return net
    if net.number_format is not None:
        ctx.info(f"network is already in the {net.number_format!r} number format")
        return net
    return family_of(ctx.board).quantize(net, ctx)


def default_passes() -> list[NamedPass]:
    """The pipeline `neurocompile compile` runs. Quantize and delays come before partitioning
    because Loihi delay relays add neurons that need cores."""
    return [
        NamedPass("validate", validate, "IR well formed; timestep and delays suit the board"),
        NamedPass("quantize", quantize, "weights and neuron parameters in the board's number format"),
        NamedPass("delays", legalize_delays,
                  "delays beyond one hop: relay neurons (Loihi) or delay-extension cores (SpiNNaker)"),
        *mapping_passes(),  # partition, placement, routing, resource_check
    ]


__all__ = ["CompileContext", "Diagnostic", "NamedPass", "default_passes", "legalize_delays", "mapping_passes",
           "quantize", "run_pipeline", "validate"]
