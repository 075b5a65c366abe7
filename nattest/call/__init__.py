"""The call: what to run (``spec``), running it between two peers of a lab (``run``), and
what happened (``result``: CallResult, PeerResult, in webrtc-internals terms).

Pure helpers: ``merge`` (two PeerResults → CallResult), ``sdp`` (SDP check and candidate
parsing), ``quality`` (the 1..5 score). Rendering a call as text is ``nattest.report.call``.

    with open_lab(topo) as lab:
        call = run_call(lab, CallSpec(policy="relay"))
"""
