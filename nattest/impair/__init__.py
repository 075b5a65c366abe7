"""Link impairments at run time: the NFQUEUE shaper that runs in a wire namespace
(``shaper``). What an impairment is lives in ``nattest.model.impair``; how a link gets its
wire, in ``nattest.backends.wires`` (pure) and the backend that applies it."""
