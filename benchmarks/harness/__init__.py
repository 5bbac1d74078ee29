"""The benchmarks' shared harness: what every script in ``benchmarks/`` is built from.

- :mod:`harness.args`: the parent argument parser (``--out``, ``--name``, ``--from-json``,
  ``--workers``);
- :mod:`harness.record`: the run record (machine, versions, day stamp) and JSON in and out;
- :mod:`harness.report`: the one writer of ``<name>.json``, ``.md`` and ``.png``, Markdown
  tables and the plot-saving tail;
- :mod:`harness.jobs`: worker processes of one thread each;
- :mod:`harness.datasets`: the tabular data sets, split and standardised;
- :mod:`harness.peers`: the registry of runners (torch optimisers, scikit-learn's MLP, SciPy's
  TRF, the package's own trainer and baselines).

``benchmarks/regenerate.py`` says which script rebuilds each committed report from its JSON;
``benchmarks/README.md`` maps every file.
"""
