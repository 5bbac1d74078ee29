"""The scale benchmark's parts (``benchmarks/scale.py`` is its command line).

- :mod:`.data`: the synthetic teacher data, in memory or written to disk, and memory probes;
- :mod:`.runners`: one ``fit`` or Adam run, each in its own process;
- :mod:`.report`: the Markdown and plots of the wide, long and streamed reports;
- :mod:`.versus_adam`: ``--versus-adam``, ``fit`` against minibatch Adam at equal wall time;
- :mod:`.versus_adam_report`: its verdicts, Markdown and plot.
"""
