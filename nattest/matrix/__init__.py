"""The connectivity matrix: which cells to run, what each must do, and the verdicts.

- ``cells``: cell ids (`symmetric--port-restricted-cone--all`) and pair names (`srflx↔prflx`);
- ``expectations``: the tables (data, one per peer kind: ``nattest/data/expectations/``);
- ``run``: planning the cells and running them, concurrently, cancellable;
- ``verdict``: MatrixCell/MatrixResult and ``evaluate``, the one judge of a cell.

Rendering a run is ``nattest.report``.
"""
