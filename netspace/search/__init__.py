"""Architecture search strategies with an ask/tell interface, and the rewards they learn from.

A strategy knows only a token space: an ordered list of categorical
decisions ``(name, options)`` (a space's ``tokens()``). ``ask(n)`` proposes
``n`` candidates as lists of option indices, ``tell(tokens, reward)`` feeds a
result back; how candidates are trained is the driver's business
(``netspace.run.search``). ``state_dict()`` is JSON-able and
``load_state_dict`` continues exactly where it was taken, so a resumed
search asks what the uninterrupted one would have asked.

- ``RandomSearch``: uniform over every decision (the baseline).
- ``Reinforce``: an LSTM controller sampling one token per decision, trained
  by policy gradient with a moving-average baseline and an entropy bonus
  (NAS with RL; MnasNet).
- ``RegularizedEvolution``: aging evolution (Real et al. 2019).
- ``OptunaTPE``, ``OptunaNSGA2``: Optuna's TPE and NSGA-II samplers, as
  proposers over the space (``netspace.search.optuna_search``; Optuna is
  the optional extra ``netspace[optuna]`` and is imported only when used).

A new strategy is a module here with a ``Strategy`` subclass (or a
``Proposer`` subclass, for one that asks from the space itself) and one
``STRATEGIES.register`` line below.

Rewards: ``accuracy_reward`` and MnasNet's ``mnas_reward``
(ACC x (LAT/T)^w), bundled as a ``Reward``.
"""

from netspace.search.evolution import RegularizedEvolution
from netspace.search.optuna_search import OptunaNSGA2, OptunaProposer, OptunaTPE
from netspace.search.random_search import RandomSearch
from netspace.search.reinforce import Controller, Reinforce
from netspace.search.reward import CONSTRAINTS, REWARDS, Reward, accuracy_reward, mnas_reward
from netspace.search.strategy import STRATEGIES, SearchError, Strategy, as_decisions, make_strategy

STRATEGIES.register(RandomSearch.kind, RandomSearch)
STRATEGIES.register(Reinforce.kind, Reinforce)
STRATEGIES.register(RegularizedEvolution.kind, RegularizedEvolution)
STRATEGIES.register(OptunaTPE.kind, OptunaTPE)
STRATEGIES.register(OptunaNSGA2.kind, OptunaNSGA2)

__all__ = [
    "CONSTRAINTS", "REWARDS", "STRATEGIES", "Controller", "OptunaNSGA2", "OptunaProposer", "OptunaTPE",
    "RandomSearch", "RegularizedEvolution", "Reinforce",
    "Reward", "SearchError", "Strategy", "accuracy_reward", "as_decisions", "make_strategy", "mnas_reward",
]
