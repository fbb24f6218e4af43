"""The speed benchmark's cold-start section: whole processes, fresh each time.

What a user of the command line waits: from the process's start to its exit (Python's
start, every import, loading the models, one run, writing the files).  Run by
``benchmarks/speed/run.py`` after its per-stage table, in the same temporary folder (the same
random-weight networks, their ONNX files already made there, the same plausible depth
fed to the geometry of both methods; see speed.py's docstring):

* the prototype, GLPN-NYU (MiT-b4) architecture;
* ours with the same network (``--depth-model``, ONNX Runtime with ``--depth-backend
  auto``), through the command line's own code (``parse_args`` + ``run``);
* ours with our default model's architecture (Depth Anything V2 Small), and the same in
  one process that keeps its models loaded (the warm worker), per photo.

The three fresh-process methods alternate (a busy spell hits all of them); medians.
One more fresh run of each of ours with ``python -X importtime`` gives the import table.
"""

import os
import statistics

from .onnx_vs_torch import import_table


def _row(label, outs):
    walls = [o["wall"] for o in outs]
    imports = statistics.median(o["imports"] for o in outs)
    run = statistics.median(o["warmup"]["total"] for o in outs)
    peak = max(o["hwm_mb"] for o in outs)
    wall = statistics.median(walls)
    print(f"  {label:<40}{wall:8.2f}{min(walls):8.2f}{imports:9.2f}{run:8.2f}{peak:9.0f}")
    return wall, peak


def run_and_report(cfg, cfg_path, runs, spawn, with_default=True):
    modes = ["cold-baseline", "cold-ours"] + (["cold-default"] if with_default else [])
    outs = {m: [] for m in modes}
    print(f"\nbench: whole fresh processes, {runs} of each, alternating ...", flush=True)
    for _ in range(runs):
        for mode in modes:
            outs[mode].append(spawn(mode, cfg_path))
    warm = spawn("warm-default", cfg_path) if with_default else None
    tables = {m: import_table(spawn(m, cfg_path, importtime=True)["stderr"])
              for m in modes[1:]}
    load = os.getloadavg()[0]

    print()
    print(f"Whole process, fresh each time ({os.path.basename(cfg['image'])}; process start "
          f"to exit: Python, imports, models, one run, files;\nmedian of {runs}, the methods "
          f"alternating; {os.cpu_count()} CPUs, load average at the end {load:.2f}):")
    print(f"  {'method':<40}{'wall s':>8}{'min s':>8}{'imports':>9}{'run s':>8}"
          f"{'peak MB':>9}")
    b_wall, b_peak = _row("prototype, GLPN-NYU (MiT-b4)", outs["cold-baseline"])
    o_wall, o_peak = _row("ours, GLPN-NYU (MiT-b4)", outs["cold-ours"])
    d_wall = None
    if with_default:
        d_wall, _ = _row("ours, Depth Anything V2 Small", outs["cold-default"])
        w_run = statistics.median(r["total"] for r in warm["runs"])
        print(f"  {'ours, DA V2 Small, warm worker (per photo)':<40}{w_run:8.2f}"
              f"{min(r['total'] for r in warm['runs']):8.2f}{'':9}{'':8}"
              f"{warm['hwm_mb']:9.0f}")
    print("  ('imports' and 'run s' are measured inside the process; the rest of 'wall' is "
          "Python's start and exit)")
    ok = lambda c: "OK" if c else "MISSED"  # noqa: E731
    ratio = b_wall / o_wall
    print(f"  prototype / ours, GLPN-NYU         {b_wall:.2f} s / {o_wall:.2f} s = "
          f"{ratio:.2f}x   (target >= 5x: {ok(ratio >= 5.0)})")
    if with_default:
        cold_warm = d_wall / w_run
        print(f"  ours DA V2 Small, fresh / warm     {d_wall:.2f} s / {w_run:.2f} s = "
              f"{cold_warm:.2f}x   (target <= 2.5x: {ok(cold_warm <= 2.5)})")
        print(f"  prototype / ours DA V2 Small       {b_wall:.2f} s / {d_wall:.2f} s = "
              f"{b_wall / d_wall:.2f}x")
    print(f"  peak memory, GLPN-NYU              prototype {b_peak:.0f} MB, ours "
          f"{o_peak:.0f} MB")
    for mode, (rows, total) in tables.items():
        name = "GLPN-NYU" if mode == "cold-ours" else "Depth Anything V2 Small"
        print(f"\n  Imports of a fresh run of ours, {name} (python -X importtime; top-level "
              f"cumulative, sum {total:.2f} s):")
        print(f"    {'cumulative s':>12} {'self s':>8}  module")
        for cum, own, module in rows:
            print(f"    {cum:12.3f} {own:8.3f}  {module}")
