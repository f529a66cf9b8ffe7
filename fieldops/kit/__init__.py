"""A kit to drive a running Fieldops from the outside, shared by the tests, the benchmark and the
drill command.

`client` speaks the wire contract (docs/protocol.md) over a WebSocket, and `peer` is a phone that
stays connected through it; `launcher` starts Redis, a database, workers (always through
deploy/worker) and the shipped nginx site on 127.0.0.1; `processes` holds the process plumbing they
need. Nothing here imports Django or any module of the server: the kit sees Fieldops
as a phone or an operator does, so the server's layers never depend on it and it never reaches
into them.
"""
