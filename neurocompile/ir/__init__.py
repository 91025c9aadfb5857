"""Hardware-agnostic network IR."""
from neurocompile.ir.fileformat import FORMAT_VERSION, load_network, save_network
from neurocompile.ir.network import Network, Population, Projection, STDPRule
from neurocompile.ir.neuron_models import NeuronModel, ParamSpec, get_neuron_model, register_neuron_model
from neurocompile.ir.validate import validate_network

__all__ = ["FORMAT_VERSION", "Network", "NeuronModel", "ParamSpec", "Population", "Projection",
           "STDPRule", "get_neuron_model", "load_network", "register_neuron_model", "save_network",
           "validate_network"]
