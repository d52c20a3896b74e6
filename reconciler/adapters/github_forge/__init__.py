"""GitHubForge: the Forge port on GitHub (or GitHub Enterprise), through PyGithub.

In production an approval is a pull request: the reconciler opens one per change that needs a
person, reads it back every cycle, and treats its merge as the approval. This package is the
only place that knows how that maps onto GitHub's REST API, and the only importer of PyGithub
(lazily: importing it does not import `github`). Its parts: `api` (every request, counted,
paced, translated into ForgeErrors), `limits` (rate limits and write pacing), `identity` (the
token's account, approvers and teams), `pulls` (branches, pull requests, labels, reviews,
comments), `proposals` (a pull request as a Proposal) and `forge` (the port). Why each client
setting is what it is: docs/architecture.md, "The GitHub forge".
"""

from reconciler.adapters.github_forge.forge import DEFAULT_BASE_URL, GitHubForge
from reconciler.adapters.github_forge.limits import ApiUsage

__all__ = ["DEFAULT_BASE_URL", "ApiUsage", "GitHubForge"]
