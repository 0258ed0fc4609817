"""The reproduction of Section V: figure specs (:mod:`~dnt.repro.specs`), the content-addressed
result store (:mod:`~dnt.repro.store`), the executors that train what is missing
(:mod:`~dnt.repro.executor`), confidence intervals, gains and verdicts
(:mod:`~dnt.repro.claims`), figure drawing (:mod:`~dnt.repro.figures`) and the ``reproduce``
entry point (:mod:`~dnt.repro.reproduce`)."""
