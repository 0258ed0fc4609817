"""Studies beside the reproduction: Algorithm 1 (:mod:`~dnt.studies.allocation`), complexity and
decision time (:mod:`~dnt.studies.complexity`), and the numerical check of Lemma 1
(:mod:`~dnt.studies.theory`)."""
