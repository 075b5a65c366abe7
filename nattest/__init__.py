"""nattest: a NAT traversal and ICE connectivity lab on real Linux kernels.

Describe, then build::

    from nattest.topology import load_topology
    from nattest.lab import open_lab
    from nattest.call import run_call

    with open_lab(load_topology("topologies/symmetric.yaml")) as lab:
        call = run_call(lab)
        print(call.selected_pair.short())   # relay↔prflx
"""

__version__ = "0.1.0"
__all__ = ["__version__"]
