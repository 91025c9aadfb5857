"""The `neurocompile` command line.

Every user error (bad model, board, option, a network that does not fit) is printed as one
`Error: ...` line on stderr with a non-zero exit code; outputs are written only when complete.
"""
from __future__ import annotations

import sys
import warnings
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from neurocompile import __version__
from neurocompile.errors import NeurocompileError

out = Console()
err = Console(stderr=True)


class UserFacingError(click.ClickException):
    """A NeurocompileError shown the click way: one line, our exit code, no traceback."""

    def __init__(self, message: str, exit_code: int = 2) -> None:
        super().__init__(message)
        self.exit_code = exit_code


class _Group(click.Group):
    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except NeurocompileError as e:
            raise UserFacingError(str(e), e.exit_code) from None
        except OSError as e:  # disk full, permission denied... name the file, no traceback
            where = f" {e.filename}" if getattr(e, "filename", None) else ""
            raise UserFacingError(f"{e.strerror or e}{':' + where if where else ''}", 1) from None


def _progress_bar() -> Progress:
    return Progress(TextColumn("{task.description}"), BarColumn(), TextColumn("{task.completed}/{task.total}"),
                    TimeRemainingColumn(), console=err, transient=True, disable=not err.is_terminal)


def _load(target: str, board_name: str, params: tuple[str, ...], seed: int | None, no_cache: bool = False,
          script_args: tuple[str, ...] = ()):
    """The board and the network (seed None: the file's or the model's own default)."""
    from neurocompile import cache
    from neurocompile.boards import load_board
    from neurocompile.inputs import load_target, parse_options

    board = load_board(board_name)
    with cache.settings(enabled=False if no_cache else None):
        net = load_target(target, parse_options(params), seed=seed, script_args=script_args)
    return net, board


def _input_paths(target: str, board_name: str) -> list[str]:
    """The user's files a command reads: an output must never replace or contain them.

    TARGET counts only when it names a file (a model name that happens to match a folder does not).
    """
    from neurocompile.inputs import resolve_target

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # resolved (and warned about) again when loading
        kind = resolve_target(target).kind
    candidates = ([target] if kind in ("file", "compiled") else []) + [board_name]
    return [c for c in candidates if c and Path(c).exists()]


def _default_out(kind: str, target: str, board: str) -> Path:
    return Path("out") / f"{Path(target).stem}-{Path(board).stem}" / kind


OVERWRITE_HELP = ("Replace the output directory even if it holds files neurocompile did not write "
                  "(never an input, the current directory or its parents). Without it, only an empty "
                  "directory or an earlier neurocompile output is replaced.")
DEFAULT_BOARD = "spinn-5"
SEED_HELP = ("Seed for everything random (placement, Poisson sources); recorded in the outputs. "
             "Default: the seed stored in a network file or compiled directory; for a model, "
             "--param seed=N if given, else 0.")
PARAM_HELP = ("Option of TARGET as key=value (repeatable). A model: its build options, typed like their "
              "defaults, e.g. --param n_groups=20 --param inhibition=false (see 'neurocompile models'). "
              "A .nir file: import options dt_ms, time_unit_ms, spike_convention (dirac|unit_step), "
              "delta_tau_syn_ms, name, e.g. --param dt_ms=0.1 --param spike_convention=unit_step "
              "(see docs/nir.md). Not for .ncnet files or compiled directories.")
SCRIPT_ARG_HELP = ("A command-line argument for a PyNN script TARGET (repeatable, in order), before any "
                   "--param KEY=VALUE, e.g. --script-arg nest --script-arg CUBA runs 'script.py nest CUBA'.")
NO_CACHE_HELP = ("Retrain models that train before they build (place_recognition, motion) instead of "
                 "using their cached weights; the cache is neither read nor written. See docs/models/cache.md.")
OPTION_HELP = ("Compiler option as KEY=JSON (repeatable), e.g. --option 'weight_exp={\"feedforward\": 2}', "
               "--option 'loihi_accept=[\"v_reset\"]', --option 'rates={\"exc\": 5}'. See docs/compiler-options.md.")


def _reject_constant(key: str):
    def reject(name: str) -> Any:
        raise UserFacingError(f"compiler option {key}: {name} is not allowed (numbers must be finite)")
    return reject


def _compile_options(pairs: tuple[str, ...]) -> dict[str, Any]:
    """KEY=JSON pairs -> dict; a value that is not JSON is taken as a string."""
    import json

    from neurocompile.passes.options import check_options

    options: dict[str, Any] = {}
    for pair in pairs:
        if "=" not in pair:
            raise UserFacingError(f"compiler option {pair!r} must look like KEY=JSON")
        key, raw = pair.split("=", 1)
        try:
            options[key.strip()] = json.loads(raw, parse_constant=_reject_constant(key.strip()))
        except ValueError:
            options[key.strip()] = raw
    check_options(options)
    return options


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="neurocompile")
def cli() -> None:
    """Compile spiking neural networks to neuromorphic boards and simulate what the chip computes.

    \b
    Typical session:
      neurocompile boards                               # what can I target?
      neurocompile models                               # bundled models
      neurocompile compile synfire --board spinn-5 -o out/synfire
      neurocompile report out/synfire
      neurocompile simulate synfire --board spinn-5 --steps 500 -o out/synfire-sim
    """
    warnings.showwarning = _show_warning


def _show_warning(message: Warning | str, category: type, filename: str, lineno: int,
                  file: Any = None, line: str | None = None) -> None:
    """Warnings (e.g. approximations in a NIR import) as one readable line, not a source dump."""
    err.print(f"[yellow]warning:[/] {message}", highlight=False)


@cli.command()
def boards() -> None:
    """List the bundled boards (hw_configs/) with their key limits.

    \b
    Example:
      neurocompile boards
    Add your own boards with NEUROCOMPILE_BOARD_PATH=/dir/with/yaml, or pass a .yaml path to --board.
    """
    from neurocompile.boards import all_boards
    from neurocompile.report.boards_text import board_lines

    summaries = [b.summary() for b in sorted(all_boards(), key=lambda b: (b.family, b.n_chips))]
    for line in board_lines(summaries, width=min(out.width or 80, 100)):
        out.print(line, markup=False, highlight=False, soft_wrap=True)


@cli.command()
def models() -> None:
    """List the bundled and installed models (entry point group neurocompile.models) and their options.

    \b
    Example:
      neurocompile models
      neurocompile compile synfire --param n_groups=20 --board spinn-5
    """
    from neurocompile.plugins import model_entries

    table = Table(show_edge=False)
    for col in ("model", "description", "options (defaults)"):
        table.add_column(col)
    for name, entry in model_entries().items():
        opts = ", ".join(f"{k}={v}" for k, v in entry.options().items())
        table.add_row(name, entry.summary, opts)
    out.print(table)


def _check_save_path(path: str, overwrite: bool, inputs: list[str]) -> None:
    """--save: a .ncnet name, never an input, an existing file only with --overwrite."""
    from neurocompile.outdir import OutputError

    p = Path(path)
    if p.suffix != ".ncnet":
        raise OutputError(f"--save {path!r}: the file name must end in .ncnet")
    if any(p.resolve() == Path(i).resolve() for i in inputs if i):
        raise OutputError(f"--save {path!r} is an input of this command; choose another file")
    if p.exists() and not overwrite:
        raise OutputError(f"--save {path!r} exists; choose another file or pass --overwrite to replace it")


@cli.command("compile")
@click.argument("target")
@click.option("--board", "board_name", default=DEFAULT_BOARD, show_default=True,
              help="Bundled board name (see 'neurocompile boards') or path to a board .yaml.")
@click.option("-o", "--output", "output", type=click.Path(file_okay=False),
              help="Output directory [default: out/<target>-<board>/compiled].")
@click.option("--seed", type=click.IntRange(0, 2**63 - 1), default=None, help=SEED_HELP)
@click.option("--param", "params", multiple=True, metavar="KEY=VALUE", help=PARAM_HELP)
@click.option("--option", "compiler_options", multiple=True, metavar="KEY=JSON", help=OPTION_HELP)
@click.option("--overwrite", is_flag=True, help=OVERWRITE_HELP)
@click.option("--no-cache", is_flag=True, help=NO_CACHE_HELP)
@click.option("--script-arg", "script_args", multiple=True, metavar="ARG", help=SCRIPT_ARG_HELP)
@click.option("--save", "save_path", type=click.Path(dir_okay=False), default=None, metavar="FILE.ncnet",
              help="Also write TARGET's network, as loaded and before compiling, to FILE.ncnet (e.g. the "
                   "network a PyNN script declares). An existing file is replaced only with --overwrite.")
def compile_cmd(target: str, board_name: str, output: str | None, seed: int | None, params: tuple[str, ...],
                compiler_options: tuple[str, ...], overwrite: bool, no_cache: bool = False,
                script_args: tuple[str, ...] = (), save_path: str | None = None) -> None:
    """Compile TARGET (a model name or a .ncnet/.nir network file) for a board.

    Runs the pass pipeline (validation, placement, ...) and writes the compiled network to DIR:
    network.ncnet, the partition/placement/routing plan, a copy of the board file and report.json
    (see docs/file-format.md, docs/report-schema.md). 'simulate DIR' and 'report DIR' read it.

    \b
    TARGET is a file if it ends in .ncnet, .nir or .py (a PyNN script, run until its first run()),
    else a model if one has that name (a file of the same name is then ignored with a warning:
    pass ./NAME for it), else a file.
    An existing output directory is replaced only if neurocompile wrote it (or it is empty);
    see --overwrite.

    \b
    Examples:
      neurocompile compile synfire --board spinn-5 -o out/synfire
      neurocompile compile my_net.ncnet --board loihi2-kapoho-point --seed 3
      neurocompile compile snntorch.nir --param dt_ms=0.1 --param spike_convention=unit_step
      neurocompile compile my_pynn_script.py --board spinn-5 --save my_net.ncnet
      neurocompile compile VAbenchmarks.py --script-arg nest --script-arg CUBA
    """
    from neurocompile.compiler import compile_network, write_compiled
    from neurocompile.report.text import render_report

    from neurocompile.outdir import check_output_dir

    options = _compile_options(compiler_options)
    output = output if output is not None else _default_out("compiled", target, board_name)
    inputs = _input_paths(target, board_name)
    check_output_dir(output, overwrite=overwrite, inputs=inputs)  # fail in a second, not after compiling
    if save_path is not None:
        _check_save_path(save_path, overwrite, inputs)
    net, board = _load(target, board_name, params, seed, no_cache, script_args)
    if save_path is not None:
        from neurocompile.ir.fileformat import save_network
        save_network(net, save_path)
        out.print(f"saved the network to {save_path}")
    with _progress_bar() as bar:
        task = bar.add_task("compiling", total=None)

        def progress(name: str, i: int, n: int) -> None:
            bar.update(task, description=f"pass {name}", completed=i, total=n)

        result = compile_network(net, board, seed=net.seed, target=target, progress=progress, options=options)
    write_compiled(result, output, overwrite=overwrite, inputs=inputs)
    render_report(result.report, out)
    out.print(f"wrote {output}/ (network.ncnet, plan.npz, report.json; seed {result.seed})")
    for note in getattr(result, "export_notes", ()):
        out.print(note)


@cli.command()
@click.argument("target")
@click.option("--board", "board_name", default=None,
              help=f"Bundled board name or path to a board .yaml; the network must fit it "
                   f"[default: {DEFAULT_BOARD}; for a compiled directory, the board it was compiled for].")
@click.option("--backend", default="sim", show_default=True, help="Backend plugin that runs the network.")
@click.option("--mode", default=None,
              help="Numeric mode of the sim backend: float (unquantized reference), loihi1, loihi2, spinnaker; "
                   "default: the board's number format.")
@click.option("--steps", type=click.IntRange(min=1, max=10_000_000), default=1000, show_default=True,
              help="Timesteps to run.")
@click.option("-o", "--output", "output", type=click.Path(file_okay=False),
              help="Write spikes.npz, traces.npz, summary.json and raster.png here.")
@click.option("--seed", type=click.IntRange(0, 2**63 - 1), default=None, help=SEED_HELP)
@click.option("--param", "params", multiple=True, metavar="KEY=VALUE", help=PARAM_HELP)
@click.option("--option", "compiler_options", multiple=True, metavar="KEY=JSON", help=OPTION_HELP)
@click.option("--overwrite", is_flag=True, help=OVERWRITE_HELP)
@click.option("--no-cache", is_flag=True, help=NO_CACHE_HELP)
@click.option("--script-arg", "script_args", multiple=True, metavar="ARG", help=SCRIPT_ARG_HELP)
def simulate(target: str, board_name: str | None, backend: str, mode: str | None, steps: int,
             output: str | None, seed: int | None, params: tuple[str, ...], compiler_options: tuple[str, ...],
             overwrite: bool, no_cache: bool = False, script_args: tuple[str, ...] = ()) -> None:
    """Simulate TARGET as the board would run it, locally.

    TARGET is a compile output directory (run as compiled: no pass runs again), or a model or
    network file, which is first compiled for the board (so a network that does not fit fails
    here, as it would on the board). Then the backend builds and runs it.

    \b
    Examples:
      neurocompile simulate out/synfire --steps 500 -o out/sim      # a compiled directory
      neurocompile simulate synfire --board spinn-5 --steps 500 -o out/sim
      neurocompile simulate my_net.ncnet --backend sim --mode float --steps 2000
      neurocompile simulate snntorch.nir --param dt_ms=0.1 --param spike_convention=unit_step
    """
    from neurocompile.outdir import check_output_dir, staged_output
    from neurocompile.plugins import check_backend, get_backend
    from neurocompile.report.run_notes import compile_warning_lines, print_lines, run_estimate_lines, run_estimates
    from neurocompile.report.simulation import simulation_summary, write_simulation

    inputs = _input_paths(target, board_name or "")
    if output is not None:
        check_output_dir(output, overwrite=overwrite, inputs=inputs)
    compiled = _compiled_for(target, board_name, seed, params, compiler_options, mode, no_cache, script_args)
    runner_backend = get_backend(backend)
    options: dict[str, Any] = {"seed": compiled.seed if seed is None else seed}
    if mode:
        options["mode"] = mode
    check_backend(runner_backend, compiled, options)
    print_lines(err, compile_warning_lines(compiled.report))  # the compile's warnings, grouped as `report` does
    runner = runner_backend.build(compiled, options)
    with _progress_bar() as bar:
        task = bar.add_task(f"simulating ({backend})", total=steps)
        result = runner.run(steps, progress=lambda k, n: bar.update(task, completed=k) if k % 50 == 0 or k == n else None)
    net = compiled.network
    summary = simulation_summary(result, net, backend, compiled.board.name)
    table = Table(title=f"{net.name}: {steps} steps, {result.mode} mode, seed {options['seed']}", show_edge=False)
    for col in ("population", "size", "spikes", "mean rate (Hz)"):
        table.add_column(col, justify="left" if col == "population" else "right")
    for p in summary["populations"]:
        table.add_row(p["name"], f"{p['size']:,}", f"{p['spikes']:,}", f"{p['mean_rate_hz']:.2f}")
    out.print(table)
    out.print(f"{summary['synaptic_events']:,} synaptic events in {summary['wall_seconds']:.3f} s "
              f"({summary['steps_per_second'] or 0:,.0f} steps/s)")
    summary["estimates"] = run_estimates(compiled, result)
    print_lines(out, run_estimate_lines(summary["estimates"]))
    if output:
        with staged_output(output, kind="simulation", overwrite=overwrite, inputs=inputs) as stage:
            write_simulation(stage, result, net, summary)
        out.print(f"wrote {output}/ (spikes.npz, summary.json, raster.png)")


def _compiled_for(target: str, board_name: str | None, seed: int | None, params: tuple[str, ...],
                  compiler_options: tuple[str, ...], mode: str | None, no_cache: bool = False,
                  script_args: tuple[str, ...] = ()) -> Any:
    """The CompiledNetwork to run: loaded from a compile output directory, else compiled now."""
    from neurocompile.boards import load_board
    from neurocompile.compiled import load_compiled
    from neurocompile.compiler import compile_network
    from neurocompile.inputs import resolve_target

    if resolve_target(target, compiled_ok=True).kind == "compiled":
        if params or compiler_options or script_args:
            raise UserFacingError(f"{target!r} is already compiled: --param, --option and --script-arg apply "
                                  f"when compiling (neurocompile compile ... -o {target})")
        compiled = load_compiled(target)
        if board_name is not None and load_board(board_name).name != compiled.board.name:
            raise UserFacingError(f"{target!r} was compiled for board {compiled.board.name!r}, not "
                                  f"{board_name!r}; recompile for that board")
        if mode == "float" and compiled.network.number_format is not None:
            raise UserFacingError(f"{target!r} holds the {compiled.network.number_format} network; --mode float "
                                  f"simulates the unquantized network: give the model or network file instead")
        return compiled
    compile_options = _compile_options(compiler_options)
    net, board = _load(target, board_name or DEFAULT_BOARD, params, seed, no_cache, script_args)
    # The float mode is the unquantized reference: compile (fit, place) without lowering numbers.
    if mode == "float":
        compile_options["quantize"] = False
    return compile_network(net, board, seed=net.seed if seed is None else seed, target=target,
                           options=compile_options)


@cli.command()
@click.argument("directory", type=click.Path(path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print the raw report.json instead of the summary.")
@click.option("--all", "show_all", is_flag=True,
              help="Everything: every slice, chip and projection, whole warning messages, the estimates' "
                   "components and sources, each pass's time (default: what fits one screen).")
@click.option("--timings", is_flag=True, help="Each pass's time (default: only the total, unless --all).")
@click.option("--html", "as_html", is_flag=True,
              help="Write DIR/report.html: one self-contained page (chip grid heat map, traffic, placement, "
                   "quantization error, raster of a simulation run); see docs/html-report.md.")
@click.option("--sim", "sim_dir", type=click.Path(path_type=Path), default=None,
              help="With --html: a 'simulate -o' output whose raster goes in the page [default: DIR itself "
                   "or the newest simulation output inside it, e.g. from 'simulate DIR -o DIR/sim'].")
def report(directory: Path, as_json: bool, show_all: bool, as_html: bool = False, sim_dir: Path | None = None,
           timings: bool = False) -> None:
    """Summarise a compile output directory for a person to read.

    Reads DIR/report.json (checked against its JSON Schema, report.schema.json). By default what
    fits one screen: the tightest resources first, a line per population (its busiest slice's
    tightest limits), the busiest chips, quantization, warnings grouped by kind naming every
    subject, energy and time per step, total pass time last. --all lists everything.

    \b
    Example:
      neurocompile report out/synfire
      neurocompile report out/synfire --all            # every slice, chip and projection
      neurocompile report out/synfire --json | jq .utilization
      neurocompile report out/synfire --html --sim out/synfire-sim
    """
    if as_html or sim_dir is not None:
        _report_html(directory, as_html, sim_dir)
        return
    import json

    from neurocompile.compiled import is_compiled_dir, load_compiled
    from neurocompile.report.build import read_report
    from neurocompile.report.text import render_report

    # a compile directory is loaded whole (a damaged plan is an error here too); its report.json is
    # checked against the schema either way
    rep = load_compiled(directory).report if is_compiled_dir(directory) else read_report(directory)
    if as_json:
        click.echo(json.dumps(rep, indent=2))
        return
    render_report(rep, out, show_all=show_all, timings=True if timings else None)


@cli.command()
@click.argument("run_a", type=click.Path(path_type=Path))
@click.argument("run_b", type=click.Path(path_type=Path))
@click.option("--tolerance", type=click.FloatRange(0.0, 1.0), default=0.0, show_default=True,
              help="Largest fraction of a population's spikes that may differ (not at the same neuron and "
                   "step in both runs) for the runs to count as the same; 0 demands identical rasters.")
@click.pass_context
def diff(ctx: click.Context, run_a: Path, run_b: Path, tolerance: float) -> None:
    """Compare two simulation outputs (directories written by 'simulate -o').

    Per population: spikes in each run, the fraction of identical spikes (same neuron and step)
    and within one step, the correlation of spike counts per neuron, the rate error; and the
    first diverging population, neuron and step. Definitions: docs/html-report.md.

    \b
    Exit code: 0 the same within --tolerance, 1 they differ, 2 bad input (not a simulation
    output; different populations, sizes, dt or number of steps).

    \b
    Examples:
      neurocompile diff out/sim out/lava                  # sim vs lava: must be identical
      neurocompile diff out/float out/loihi2 --tolerance 0.2
    """
    from neurocompile.report.diff import diff_runs, first_divergence, within_tolerance
    from neurocompile.report.runs import load_run

    a, b = load_run(run_a), load_run(run_b)
    diffs = diff_runs(a, b)
    for tag, r in (("A", a), ("B", b)):
        s = r.summary
        out.print(f"{tag}: {r.path}  ({s.get('network', '?')} on {s.get('board', '?')}, {s.get('mode', '?')} mode, "
                  f"{s.get('backend', '?')} backend, seed {s.get('seed', '?')}, {r.steps:,} steps)", highlight=False)
    table = Table(show_edge=False)
    for col in ("population", "neurons", "spikes A/B", "same", "±1 step", "count corr", "rate error Hz",
                "first diff step:neuron"):
        table.add_column(col, justify="left" if col == "population" else "right", no_wrap=col == "population")
    for d in diffs:
        first = "-" if d.first_step is None else f"{d.first_step}:{d.first_neuron}"
        table.add_row(d.name, f"{d.size:,}", f"{d.spikes_a:,}/{d.spikes_b:,}", f"{d.identical:.1%}",
                      f"{d.within_one:.1%}", "-" if d.correlation is None else f"{d.correlation:.3f}",
                      f"{d.rate_error_hz:.2f}", first)
    out.print(table)
    first = first_divergence(diffs)
    if first is None:
        out.print("identical: every spike of every population at the same neuron and step")
    else:
        out.print(f"first divergence: population {first.name!r}, neuron {first.first_neuron}, step {first.first_step}",
                  highlight=False)
    worst = max(diffs, key=lambda d: 1.0 - d.identical, default=None)
    if within_tolerance(diffs, tolerance):
        if first is not None:
            out.print(f"same within tolerance {tolerance:g} (largest non-identical fraction "
                      f"{1 - worst.identical:.2%}, {worst.name})", highlight=False)
        return
    out.print(f"differ: {1 - worst.identical:.2%} of {worst.name!r} spikes are not identical "
              f"(tolerance {tolerance:g})", highlight=False)
    ctx.exit(1)


def _report_html(directory: Path, as_html: bool, sim_dir: Path | None) -> None:
    from neurocompile.report.html import write_html_report

    if not as_html:
        raise UserFacingError("--sim is for the HTML report: add --html")
    out.print(f"wrote {write_html_report(directory, sim_dir)}")


def _quiet_half_built_zipfiles(unraisable: Any) -> None:
    """Ctrl-C or SIGTERM inside `zipfile.ZipFile.__init__` (np.savez, .ncnet writing) leaves a
    half-built ZipFile whose `__del__` then fails with AttributeError ('_writing') and Python
    prints "Exception ignored ... Traceback" on stderr (Python 3.10; zipfile.py ZipFile.close).
    The run is aborting and its staged output is removed, so that message is noise: drop it,
    print every other unraisable exception as Python would."""
    import zipfile

    if (isinstance(unraisable.exc_value, AttributeError)
            and getattr(unraisable.object, "__qualname__", "") == zipfile.ZipFile.__del__.__qualname__):
        return
    sys.__unraisablehook__(unraisable)


def main() -> None:
    sys.unraisablehook = _quiet_half_built_zipfiles
    cli(prog_name="neurocompile")


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
