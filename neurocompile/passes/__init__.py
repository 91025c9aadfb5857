"""Compiler passes: each (IR, context) -> IR, run in order by `run_pipeline`."""
from neurocompile.passes.naive_placement import naive_placement
from neurocompile.passes.pipeline import CompileContext, Diagnostic, NamedPass, run_pipeline
from neurocompile.passes.validation import validate


def default_passes() -> list[NamedPass]:
    """The pipeline `neurocompile compile` runs."""
    return [
        NamedPass("validate", validate, "IR well formed; timestep and delays suit the board"),
        NamedPass("naive_placement", naive_placement, "one population slice per core, chips in order"),
    ]


__all__ = ["CompileContext", "Diagnostic", "NamedPass", "default_passes", "naive_placement",
           "run_pipeline", "validate"]
