"""Fixed-point arithmetic of the hardware targets (weight quantisation, shifts) reproduced on the host."""
