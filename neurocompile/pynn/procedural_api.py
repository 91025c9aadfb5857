"""create / connect / record, PyNN's procedural API, built from our classes (as pyNN.mock does)."""
from pyNN import common
from pyNN.connectors import FixedProbabilityConnector

from neurocompile.pynn import simulator
from neurocompile.pynn.populations import Population
from neurocompile.pynn.projections import Projection
from neurocompile.pynn.standardmodels import StaticSynapse

create = common.build_create(Population)
connect = common.build_connect(Projection, FixedProbabilityConnector, StaticSynapse)
record = common.build_record(simulator)


def record_v(source, filename):
    return record(["v"], source, filename)


def record_gsyn(source, filename):
    return record(["gsyn_exc", "gsyn_inh"], source, filename)
