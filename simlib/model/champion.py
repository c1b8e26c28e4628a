"""Champion turnover: the customer's internal champion leaves their job.

Each month an alive account loses its champion with probability ``monthly_turnover`` (a keyed
uniform of stream ``champion``). Satisfaction falls by ``satisfaction_drop`` at once, and the odds
of churn at the account's next renewal are multiplied by ``churn_odds_multiplier`` (the renewal
``champion`` churn-odds term below; the flag is cleared once the renewal is decided).

Every move is also recorded as it happens, for mechanisms that follow the person rather than the
renewal (loyalty's champion referrals): ``champion_moved_month`` is the month of the account's
latest move (-1: none yet) and ``champion_satisfaction_before`` its satisfaction just before that
move's drop (0-1), kept as it was rather than rebuilt from the floored value after the drop.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np
from numpy.typing import NDArray

from ..account import register_column
from ..churn_odds import register_churn_odds_term
from ..engine import Actor, Simulation, register_actor
from ..scenario import Scenario

__all__ = ["ChampionActor"]

#: The champion left since the account's last renewal: read by the churn-odds term below, by
#: the CS health score (coverage) and by loyalty (a moving champion may refer the kit).
register_column("champion_lost", np.bool_, False)


@register_actor
class ChampionActor(Actor):
    name: ClassVar[str] = "champion"
    order: ClassVar[int] = 70

    @classmethod
    def enabled(cls, scenario: Scenario) -> bool:
        return scenario.champion.enabled

    def __init__(self, sim) -> None:
        super().__init__(sim)
        sim.ledger.declare("champions_lost", integer=True)
        sim.book.add_column("champion_moved_month", np.int32, -1)
        sim.book.add_column("champion_satisfaction_before", np.float64, np.nan)
        desk = sim.actor("renewal")
        if desk is not None:
            desk.add_renewal_handler(self._renewed)

    def _renewed(self, rows: NDArray[np.intp], month: int) -> None:
        """A renewal was decided: the loss of a champion counts once, at the next renewal."""
        self.sim.book.champion_lost[rows] = False

    def open_month(self, month: int) -> None:
        cfg = self.sim.scenario.champion
        book = self.sim.book
        rows = book.alive_index()
        if rows.size == 0 or cfg.monthly_turnover == 0:
            return
        u = self.sim.streams.uniform("champion", book.key[rows], month)
        left = rows[u < cfg.monthly_turnover]
        book.champion_lost[left] = True
        book.champion_moved_month[left] = month
        book.champion_satisfaction_before[left] = book.satisfaction[left]
        book.satisfaction[left] = np.maximum(book.satisfaction[left] - cfg.satisfaction_drop, 1e-6)
        self.sim.ledger.add("champions_lost", month, left.size)


@register_churn_odds_term("champion", order=20)
def _champion_lost(sim: Simulation, rows: NDArray[np.intp]) -> NDArray[np.float64] | None:
    """log(churn_odds_multiplier) for an account whose champion left since its last renewal."""
    lost = sim.book.champion_lost[rows]
    if not lost.any():
        return None
    return np.log(sim.scenario.champion.churn_odds_multiplier) * lost
