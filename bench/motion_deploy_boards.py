"""The deployable motion rows of docs/results.md for given boards, without the training curve and
baselines of `python -m neurocompile.models.motion.evaluate --scale full` (same functions, seed 0):

    .venv/bin/python bench/motion_deploy_boards.py loihi1-nahuku-32 loihi2-oheo-gulch   # ~5 min
"""
import sys, time
import numpy as np
from neurocompile.models.motion import events as ev, deploy
from neurocompile.models.motion.experiment import SCALES, deployable_layer, test_set, _score_row
t=time.time()
sc = SCALES["full"]; seed = 0
dep = deployable_layer(sc, seed)
print("layer", time.time()-t, flush=True)
dtest = test_set(sc, seed, sc.deploy_size)
dep_row, dep_scores = _score_row("deployable (analytic)", dep, dtest, sc.deploy_size)
print("analytic", dep_row, flush=True)
n = min(sc.deploy_movies, len(dtest)); idx = np.arange(n)
net = deploy.build_network(dep, dtest.events[idx], dtest.labels[idx], seed=seed)
sim = deploy.simulate(net)
analytic = dep_scores.decisions[idx]; labels = dtest.labels[idx]
spk = sim["decisions"]
print("float", n, "acc36", np.mean(spk == labels), "agree", np.mean(spk == analytic), flush=True)
for board in sys.argv[1:]:
    hw = deploy.on_board(net, board, seed); dec = hw["decisions"]
    print(board, hw["mode"], "acc36", np.mean(dec == labels), "agree", np.mean(dec == analytic), "warnings", hw["warnings"], time.time()-t, flush=True)
