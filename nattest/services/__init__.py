"""Services a lab runs on its nodes, and how peers reach them.

- ``start``: start coturn and signaling where the topology puts them, readiness proven;
- ``coturn``: coturn's config (rendered from the model) and its process;
- ``signaling``: the WebSocket signaling server (``python -m nattest.services.signaling``);
- ``credentials``: ``LabServices`` (addresses, URLs, secrets kept in the lab folder), REST
  credentials; ``tls``: the lab's TURN certificate; ``urls``: stun:/turn:/turns: URLs.
"""

SIGNALING_MODULE = "nattest.services.signaling"
"""The signaling server's module (``Lab.spawn_python``; warmed early by ``nattest up``)."""
