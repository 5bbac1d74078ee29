"""The generalisation benchmark's parts (``benchmarks/generalisation.py`` is its command line).

- :mod:`.settings`: the estimator configurations, data sets, peers and the target;
- :mod:`.runners`: one method on one (data set, h, seed), regression or classification;
- :mod:`.cells`: the runs grouped into cells, and the headline counts;
- :mod:`.report`: the Markdown report and the plot.
"""
