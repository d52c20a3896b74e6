"""A pull-request-driven GitOps reconciler.

Blueprints in git say what each service may become; a reconcile cycle reads the live state,
decides, governs the decision and then acts, proposes or refuses, recording every step in git.
"""

__version__ = "0.1.0"
