"""A pull-request-driven GitOps reconciler.

Blueprints in git decide what each service may become; a reconcile cycle reads the live state,
decides, governs the decision and then acts, proposes or refuses, recording every step in git.

The published coordinates live here, once: the distribution's name (the package index already
has an unrelated `reconciler`; the command and the import package keep that name), and the
repository and tag that a blueprint repository's workflows use the Action from.
"""

__version__ = "0.1.0"

#: The distribution's name on the package index and in `pip install`.
DISTRIBUTION = "blueprint-reconciler"
#: The GitHub repository that holds the Action (`uses: ACTION_REPOSITORY@ACTION_VERSION`).
ACTION_REPOSITORY = "blueprint-reconciler/blueprint-reconciler"
#: The release tag of this version, which `reconciler init` writes into the workflows.
ACTION_VERSION = f"v{__version__}"
