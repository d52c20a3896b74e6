"""The approval lifecycle, run for each service in every cycle, through the Forge port.

Before deciding (`lookups.review_proposals`), every proposal the trail says is open is looked
up on the forge: a merge is judged and recorded as granted or refused (`merges`), a proposal
closed unmerged is a rejection, one whose branch moved or whose time ran out is dealt with
(`while_open`), and grants recorded earlier are used once the trail and the forge both stand
behind them (`grants`). After deciding (`proposing`), each operation that needs approval is
proposed, or its open proposal updated in place or left alone, and proposals the load no
longer calls for are closed as superseded. Each event also sets the proposal's status on the
forge, and only when something happened, so an idle run makes no write to the forge.
"""

from reconciler.shell.approvals.lookups import review_proposals
from reconciler.shell.approvals.proposing import Proposed, Proposer, supersede
from reconciler.shell.approvals.review import Commit, Review, approval_records

__all__ = [
    "Commit",
    "Proposed",
    "Proposer",
    "Review",
    "approval_records",
    "review_proposals",
    "supersede",
]
