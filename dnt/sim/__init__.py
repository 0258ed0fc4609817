"""The paper's system (Section II): configuration, mobility (eq. 1), channel and rates (eqs. 2-6),
RB allocation (Algorithm 1), the twin (eq. 7) and its GRU predictor (eqs. 9-15), the rewards of
one slot (eqs. 16-17), the vector environment and its PettingZoo face, and the evaluation
protocol every policy is scored by. Imports nothing from the layers above it."""
