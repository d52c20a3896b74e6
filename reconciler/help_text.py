"""`reconciler --help` as click renders it, kept so that the console script prints it
without importing click (see entry.py). Written by `make help-text` from
tests/cli/render_help.py; do not edit by hand."""

#: The help, by the width click wraps it to.
HELP = {
    78: """\
Usage: reconciler [OPTIONS] COMMAND [ARGS]...

  Reconcile Kubernetes services with the blueprints in a git repository.

  Each service has a blueprint at blueprints/<service>/blueprint.yaml: its
  replica bounds, utilization targets and thresholds, performance targets, and
  which operations the reconciler may do alone (allowed), only with a merged
  pull request (requires_approval), or never (forbidden). A cycle reads
  metrics, decides, governs, then acts, proposes or refuses, and records every
  step as a commit under audit/.

  Examples (start here):
    reconciler demo                  the seed scenario, narrated, in a scratch clone
    reconciler init fleet --service web --approver alice
                                     a new blueprint repository that uses the Action
    reconciler validate              check every blueprint, with a fix for each problem
    reconciler policy todo-frontend  a service's effective policy and where it comes from
    reconciler sim init --scenario seed && reconciler run
                                     one cycle on the simulated cluster
    reconciler audit / explain ID    the audit trail, and the chain behind one decision

  Exit codes: 0 ok, 1 problems found, 2 usage, 3 configuration, 4 unavailable, 5 audit;
              each command's --help says when it returns which. Details: docs/cli.md.

Options:
  --repo DIRECTORY                Blueprint repository (default: the nearest
                                  directory upwards with blueprints/). Env:
                                  RECONCILER_REPO.
  --cluster [simulated|kubernetes]
                                  Which cluster to act on: the embedded
                                  simulation, or a real one. Env:
                                  RECONCILER_CLUSTER.  [default: simulated]
  --kubeconfig FILE               Kubernetes: the kubeconfig file (default
                                  ~/.kube/config). Env: KUBECONFIG.
  --context TEXT                  Kubernetes: the kubeconfig context (default:
                                  its current one). Env: RECONCILER_CONTEXT.
  --in-cluster                    Kubernetes: use the pod's service account
                                  instead of a kubeconfig.
  --prometheus-url TEXT           Kubernetes: Prometheus for latency, error
                                  rate and the CPU and memory history that
                                  scale-downs need, e.g.
                                  http://prometheus:9090. Proxies from
                                  HTTPS_PROXY, HTTP_PROXY and NO_PROXY. Env:
                                  RECONCILER_PROMETHEUS_URL.
  --prometheus-token-file FILE    Prometheus: a bearer token in a file, read
                                  again at every run (or give the token itself
                                  in RECONCILER_PROMETHEUS_TOKEN). Env:
                                  RECONCILER_PROMETHEUS_TOKEN_FILE.
  --prometheus-user TEXT          Prometheus: basic auth user; the password
                                  from RECONCILER_PROMETHEUS_PASSWORD or
                                  --prometheus-password-file. Env:
                                  RECONCILER_PROMETHEUS_USER.
  --prometheus-password-file FILE
                                  Prometheus: the basic auth password in a
                                  file, read again at every run. Env:
                                  RECONCILER_PROMETHEUS_PASSWORD_FILE.
  --prometheus-header NAME: VALUE
                                  Prometheus: a header for every request, e.g.
                                  'X-Scope-OrgID: team-a' for Mimir, Cortex or
                                  Thanos tenants; repeatable. Env:
                                  RECONCILER_PROMETHEUS_HEADERS, one per line.
  --prometheus-ca-file FILE       Prometheus: the CAs (PEM) to trust instead
                                  of the system's. Env:
                                  RECONCILER_PROMETHEUS_CA_FILE.
  --prometheus-cert-file FILE     Prometheus: a client certificate (PEM) for
                                  mutual TLS. Env:
                                  RECONCILER_PROMETHEUS_CERT_FILE.
  --prometheus-key-file FILE      Prometheus: the client certificate's private
                                  key (PEM), unless the certificate file holds
                                  it. Env: RECONCILER_PROMETHEUS_KEY_FILE.
  --prometheus-timeout SECONDS    Prometheus: seconds to wait for an answer.
                                  Env: RECONCILER_PROMETHEUS_TIMEOUT.
                                  [default: 5.0; x>0]
  --prometheus-connect-timeout SECONDS
                                  Prometheus: seconds to wait for a
                                  connection. Env:
                                  RECONCILER_PROMETHEUS_CONNECT_TIMEOUT.
                                  [default: 5.0; x>0]
  --forge [local|github|none]     Where approval proposals go: branches in
                                  this repository (local), pull requests on
                                  GitHub (github; token from GITHUB_TOKEN), or
                                  nowhere (none). Env: RECONCILER_FORGE.
                                  [default: local]
  --github-repository TEXT        GitHub forge: owner/name of the repository.
                                  Env: GITHUB_REPOSITORY.
  --github-api-url TEXT           GitHub forge: the API's base URL (GitHub
                                  Enterprise: https://HOST/api/v3). Env:
                                  GITHUB_API_URL.  [default:
                                  https://api.github.com]
  --sim-state FILE                The simulated cluster's state file (default:
                                  .reconciler/sim-state.db in the repository).
                                  Env: RECONCILER_SIM_STATE.
  --lock-timeout DURATION         How long a command that writes (run,
                                  request, breaker reset, sim
                                  init/set/advance) waits while another
                                  reconciler writes to the same repository,
                                  before it exits 4. Env:
                                  RECONCILER_LOCK_TIMEOUT.  [default: 60s]
  --version                       Show the version and exit.
  -h, --help                      Show this message and exit.

Commands:
  approvals     List approval proposals: pending, approved (merged),...
  audit         List audit records, oldest first, filtered by service,...
  breaker       Inspect or reset a service's circuit breaker.
  check-change  Classify every blueprint edit between git revisions BASE...
  codeowners    Print CODEOWNERS entries that make each blueprint's...
  dashboard     Put a failed run on the dashboard issue (GitHub forge only).
  demo          Run the seed scenario end to end on the embedded...
  doctor        Check that the reconciler can work on a cluster, and say...
  explain       Show the whole chain behind one id: decision → governance...
  init          Start a blueprint repository in DIRECTORY (default: the...
  plan          Show what a cycle would do now, and why, without changing...
  policy        Show SERVICE's effective policy: its blueprint merged...
  report        Sum up an observe-mode trial: what the reconciler would...
  request       Ask for an operation on SERVICE; it goes through the same...
  run           Run one reconcile cycle over every service (or those...
  schema        Print the JSON Schema the validator uses.
  sim           The simulated cluster: the embedded default that `run`...
  status        A row per service: replicas, weighted utilization, last...
  validate      Check blueprints and the global policies; report every...
""",
    98: """\
Usage: reconciler [OPTIONS] COMMAND [ARGS]...

  Reconcile Kubernetes services with the blueprints in a git repository.

  Each service has a blueprint at blueprints/<service>/blueprint.yaml: its replica bounds,
  utilization targets and thresholds, performance targets, and which operations the reconciler may
  do alone (allowed), only with a merged pull request (requires_approval), or never (forbidden). A
  cycle reads metrics, decides, governs, then acts, proposes or refuses, and records every step as
  a commit under audit/.

  Examples (start here):
    reconciler demo                  the seed scenario, narrated, in a scratch clone
    reconciler init fleet --service web --approver alice
                                     a new blueprint repository that uses the Action
    reconciler validate              check every blueprint, with a fix for each problem
    reconciler policy todo-frontend  a service's effective policy and where it comes from
    reconciler sim init --scenario seed && reconciler run
                                     one cycle on the simulated cluster
    reconciler audit / explain ID    the audit trail, and the chain behind one decision

  Exit codes: 0 ok, 1 problems found, 2 usage, 3 configuration, 4 unavailable, 5 audit;
              each command's --help says when it returns which. Details: docs/cli.md.

Options:
  --repo DIRECTORY                Blueprint repository (default: the nearest directory upwards
                                  with blueprints/). Env: RECONCILER_REPO.
  --cluster [simulated|kubernetes]
                                  Which cluster to act on: the embedded simulation, or a real one.
                                  Env: RECONCILER_CLUSTER.  [default: simulated]
  --kubeconfig FILE               Kubernetes: the kubeconfig file (default ~/.kube/config). Env:
                                  KUBECONFIG.
  --context TEXT                  Kubernetes: the kubeconfig context (default: its current one).
                                  Env: RECONCILER_CONTEXT.
  --in-cluster                    Kubernetes: use the pod's service account instead of a
                                  kubeconfig.
  --prometheus-url TEXT           Kubernetes: Prometheus for latency, error rate and the CPU and
                                  memory history that scale-downs need, e.g.
                                  http://prometheus:9090. Proxies from HTTPS_PROXY, HTTP_PROXY and
                                  NO_PROXY. Env: RECONCILER_PROMETHEUS_URL.
  --prometheus-token-file FILE    Prometheus: a bearer token in a file, read again at every run
                                  (or give the token itself in RECONCILER_PROMETHEUS_TOKEN). Env:
                                  RECONCILER_PROMETHEUS_TOKEN_FILE.
  --prometheus-user TEXT          Prometheus: basic auth user; the password from
                                  RECONCILER_PROMETHEUS_PASSWORD or --prometheus-password-file.
                                  Env: RECONCILER_PROMETHEUS_USER.
  --prometheus-password-file FILE
                                  Prometheus: the basic auth password in a file, read again at
                                  every run. Env: RECONCILER_PROMETHEUS_PASSWORD_FILE.
  --prometheus-header NAME: VALUE
                                  Prometheus: a header for every request, e.g. 'X-Scope-OrgID:
                                  team-a' for Mimir, Cortex or Thanos tenants; repeatable. Env:
                                  RECONCILER_PROMETHEUS_HEADERS, one per line.
  --prometheus-ca-file FILE       Prometheus: the CAs (PEM) to trust instead of the system's. Env:
                                  RECONCILER_PROMETHEUS_CA_FILE.
  --prometheus-cert-file FILE     Prometheus: a client certificate (PEM) for mutual TLS. Env:
                                  RECONCILER_PROMETHEUS_CERT_FILE.
  --prometheus-key-file FILE      Prometheus: the client certificate's private key (PEM), unless
                                  the certificate file holds it. Env:
                                  RECONCILER_PROMETHEUS_KEY_FILE.
  --prometheus-timeout SECONDS    Prometheus: seconds to wait for an answer. Env:
                                  RECONCILER_PROMETHEUS_TIMEOUT.  [default: 5.0; x>0]
  --prometheus-connect-timeout SECONDS
                                  Prometheus: seconds to wait for a connection. Env:
                                  RECONCILER_PROMETHEUS_CONNECT_TIMEOUT.  [default: 5.0; x>0]
  --forge [local|github|none]     Where approval proposals go: branches in this repository
                                  (local), pull requests on GitHub (github; token from
                                  GITHUB_TOKEN), or nowhere (none). Env: RECONCILER_FORGE.
                                  [default: local]
  --github-repository TEXT        GitHub forge: owner/name of the repository. Env:
                                  GITHUB_REPOSITORY.
  --github-api-url TEXT           GitHub forge: the API's base URL (GitHub Enterprise:
                                  https://HOST/api/v3). Env: GITHUB_API_URL.  [default:
                                  https://api.github.com]
  --sim-state FILE                The simulated cluster's state file (default: .reconciler/sim-
                                  state.db in the repository). Env: RECONCILER_SIM_STATE.
  --lock-timeout DURATION         How long a command that writes (run, request, breaker reset, sim
                                  init/set/advance) waits while another reconciler writes to the
                                  same repository, before it exits 4. Env:
                                  RECONCILER_LOCK_TIMEOUT.  [default: 60s]
  --version                       Show the version and exit.
  -h, --help                      Show this message and exit.

Commands:
  approvals     List approval proposals: pending, approved (merged), rejected, expired,...
  audit         List audit records, oldest first, filtered by service, event type and time.
  breaker       Inspect or reset a service's circuit breaker.
  check-change  Classify every blueprint edit between git revisions BASE and HEAD, and say...
  codeowners    Print CODEOWNERS entries that make each blueprint's approvers its code owners.
  dashboard     Put a failed run on the dashboard issue (GitHub forge only).
  demo          Run the seed scenario end to end on the embedded defaults, and narrate it.
  doctor        Check that the reconciler can work on a cluster, and say how to fix what is...
  explain       Show the whole chain behind one id: decision → governance → operation →...
  init          Start a blueprint repository in DIRECTORY (default: the current one).
  plan          Show what a cycle would do now, and why, without changing or recording anything.
  policy        Show SERVICE's effective policy: its blueprint merged with the global policies.
  report        Sum up an observe-mode trial: what the reconciler would have done, per service.
  request       Ask for an operation on SERVICE; it goes through the same governance as a...
  run           Run one reconcile cycle over every service (or those given with --service).
  schema        Print the JSON Schema the validator uses.
  sim           The simulated cluster: the embedded default that `run` acts on.
  status        A row per service: replicas, weighted utilization, last change, cooldown,...
  validate      Check blueprints and the global policies; report every problem with its fix.
""",
}
