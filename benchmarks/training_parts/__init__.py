"""The training benchmark's parts (``benchmarks/training.py`` is its command line).

- :mod:`.settings`: the methods, presets and the targets' thresholds;
- :mod:`.runs`: the run record (:class:`~.runs.Run`) and reading earlier JSON files;
- :mod:`.driver`: the grid of runs (the peers come from :mod:`harness.peers`);
- :mod:`.checks`: the targets (Adam and SGD; converged L-BFGS) computed from the runs;
- :mod:`.markdown`: the Markdown report;
- :mod:`.plots`: the loss-versus-time plots.
"""
