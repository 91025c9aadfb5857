"""neurocompile: compile spiking networks to neuromorphic hardware and simulate them bit-accurately."""
from neurocompile.errors import BoardError, ModelError, NeurocompileError, ResourceError
from neurocompile.ir import Network, STDPRule, load_network, save_network, validate_network

__version__ = "0.1.0"

__all__ = ["BoardError", "ModelError", "Network", "NeurocompileError", "ResourceError", "STDPRule",
           "__version__", "load_network", "save_network", "validate_network"]
