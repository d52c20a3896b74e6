"""Mutation testing of the safety logic: `python -m tests.mutation run|rerun|report [MODULE ...]`.

`--jobs N` runs at most N test runs at a time (mutmut's default is one per core).
`--tests PATH,PATH` tries each mutant against the tests under those paths only (files or
folders, e.g. `--tests tests/core/test_conditions.py`), out of those that reach it: a quick
loop for a module most of the suite reaches. It can only kill fewer mutants, so the score it
gives is a lower bound; say which tests a score was measured with.

`make mutate` runs it. mutmut changes one thing at a time in a module (a `<` into `<=`, an
`and` into `or`, a number, a string...) and runs the tests that reach the changed function; a
mutant the tests do not notice *survived*. Each survivor is a missing test, or an equivalent
mutant (one no input can tell apart). An equivalent mutant is listed in EQUIVALENT below with
the line it produces and why no input tells it apart (or, when every mutant of a line is
equivalent, the line is marked `# pragma: no mutate` with the reason after it); `report`
shows both lists and leaves them out of the score.

The modules mutmut may mutate are `[tool.mutmut] only_mutate` in pyproject.toml (generating
mutants is slow, so the set is fixed there); MODULE picks some of them for this run, and
`MODULE:function,function` only those functions (methods by name too), for a quick look at
one path. Results are kept under mutants/ (not committed): `report` reads the last run.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tomllib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

#: Surviving mutants that no input can tell from the code, by mutmut's name: a part of a line
#: the mutant adds or removes (a `+` or `-` line of `mutmut show`), and why it is equivalent. A
#: listed mutant whose line no longer matches (the function changed, mutmut renumbered) is
#: reported as a survivor again, so an excuse never silently covers another mutant.
EQUIVALENT: dict[str, tuple[str, str]] = {
    "reconciler.core.approvals.holds.x__refused_blueprint__mutmut_33": (
        "next(iter(proposed_paths(body.metadata)), None)",
        "the path is read only as `not path` and compared with a loaded blueprint's source, "
        "a text: None and '' both mean no path known",
    ),
    "reconciler.core.blueprint.conditions.x__apply__mutmut_38": (
        "raise AssertionError(None)",
        "unreachable: the parser only builds the operators matched above",
    ),
    "reconciler.core.blueprint.conditions.x__evaluate__mutmut_88": (
        "raise AssertionError(None)",
        "unreachable: the parser only builds the node types matched above",
    ),
    "reconciler.core.blueprint.conditions.x__evaluate__mutmut_1": (
        "case Literal(value=value, kind=Kind.BOOL):",
        "without its own case a true/false literal evaluates as 1.0/0.0, which AND, OR, NOT "
        "and evaluate() treat exactly as True/False",
    ),
    "reconciler.core.blueprint.reading.xǁCheckContextǁadd__mutmut_6": (
        "value_line, value_column = self.document.value_marks.get(path, None)",
        "only a condition's problem passes column_offset, and the YAML walk marks every value "
        "it reads, the condition's too, so the default is never taken",
    ),
    "reconciler.core.blueprint.reading.xǁCheckContextǁadd__mutmut_8": (
        "value_line, value_column = self.document.value_marks.get(path, )",
        "only a condition's problem passes column_offset, and the YAML walk marks every value "
        "it reads, the condition's too, so the default is never taken",
    ),
    "reconciler.core.blueprint.sections.x__check_bare_quantity__mutmut_11": (
        'text.replace(".", "", ).isdigit()',
        "the schema lets a cpu or memory quantity hold at most one '.', so removing the first "
        "'.' and removing every '.' leave the same text",
    ),
    "reconciler.core.blueprint.sections.x__check_bare_quantity__mutmut_14": (
        'text.replace(".", "", 2).isdigit()',
        "the schema lets a cpu or memory quantity hold at most one '.', so removing the first "
        "'.' and removing two leave the same text",
    ),
    "reconciler.adapters.git_audit_approvals.xǁApprovalIndexǁselect__mutmut_19": (
        'APPROVAL_KINDS | set(summary["kinds"])',
        "a shortcut: with no approval record in any day every day ends with no proposal open, "
        "so the reading from the last such moment finds no approval record either and answers "
        "[] the same (and when an index saved out of order leaves no day quiet, reading every "
        "approval record finds none too)",
    ),
    "reconciler.adapters.git_audit_approvals.xǁApprovalIndexǁselect__mutmut_3": (
        "days = self._trail.days(service, None)",
        "its one caller, GitAuditStore.approvals, passes the store's own HEAD as last looked "
        "up (_head_commit()), which is what days() reads when given none",
    ),
    "reconciler.adapters.git_audit_approvals.xǁApprovalIndexǁselect__mutmut_5": (
        "days = self._trail.days(service, )",
        "its one caller, GitAuditStore.approvals, passes the store's own HEAD as last looked "
        "up (_head_commit()), which is what days() reads when given none",
    ),
    "reconciler.adapters.github_forge.limits.x_limit_of__mutmut_30": (
        'after = headers.get("retry-after", "XXXX")',
        "a missing retry-after is read only by isdigit(), false for both defaults",
    ),
    "reconciler.adapters.github_forge.limits.x_limit_of__mutmut_38": (
        'reset = headers.get("x-ratelimit-reset", "XXXX")',
        "a missing reset is read only by isdigit(), false for both defaults",
    ),
    "reconciler.adapters.github_forge.identity.xǁIdentityǁis_member__mutmut_10": (
        "key = (approver.upper(), login.lower())",
        "the answers' cache key is case-folded either way; GitHub names are ASCII",
    ),
    "reconciler.adapters.github_forge.identity.xǁIdentityǁis_member__mutmut_11": (
        "key = (approver.lower(), login.upper())",
        "the answers' cache key is case-folded either way; GitHub names are ASCII",
    ),
    "reconciler.adapters.github_forge.identity.xǁIdentityǁwhoami__mutmut_14": (
        'me = ""',
        "read only by login_of, which answers None for anything but an object with a login: "
        "'' and None are the same unknown account",
    ),
    "reconciler.core.decide.governance.x__breaker__mutmut_22": (
        '{"state": breaker.describe(None), "service": request.service},',
        "on the open breaker's line: describe() reads the settings only for a closed or "
        "half-open breaker (its failures out of the threshold)",
    ),
    "reconciler.core.decide.governance.x__alternatives__mutmut_1": (
        "offered: Sequence[Alternative] = None",
        "a first value both branches of the `if` below replace before it is read",
    ),
    "reconciler.core.decide.governance.x__alternatives__mutmut_13": (
        "service=None,",
        "the probe only feeds condition_values and classify, which read its operation, "
        "replicas and change_percent, never its service",
    ),
    "reconciler.core.decide.governance.x__alternatives__mutmut_14": (
        "origin=None,",
        "the probe only feeds condition_values and classify, which read its operation, "
        "replicas and change_percent, never its origin",
    ),
    "reconciler.adapters.git_audit.xǁGitAuditStoreǁ_head_ref__mutmut_7": (
        "target = head.target if (head is not None) or True else None",
        "pygit2 opens no repository without a HEAD (it is what makes a folder a repository), "
        "so the lookup never answers None",
    ),
    "reconciler.adapters.kubernetes.writes.x__hpa_at__mutmut_5": (
        "hpa = _read_hpa(api, namespace, name, None)",
        "_hpa_at is only a write's read-back, and Transport.write turns any ClusterError the "
        "read-back raises into 'not landed', so the service it names is never read",
    ),
    "reconciler.adapters.git_audit.xǁGitAuditStoreǁappend__mutmut_36": (
        "moment = max(record.timestamp for record in records).astimezone(None)",
        "the moment is only read through .timestamp(), the same instant whichever zone "
        "astimezone converts to (a naive time is taken as local time by both)",
    ),
    "reconciler.adapters.git_audit.xǁGitAuditStoreǁappend__mutmut_46": (
        "signature = git.Signature(self.name, self.email, int(moment.timestamp()), )",
        "pygit2's Signature takes an offset of 0 minutes when none is given",
    ),
    "reconciler.adapters.git_audit.xǁGitAuditStoreǁappend__mutmut_64": (
        "self._head_known = None",
        "read only as a truth value (`not check and self._head_known`): None and False agree",
    ),
    "reconciler.adapters.git_audit.xǁGitAuditStoreǁappend__mutmut_70": (
        "self._commits.add(None)",
        "the note of its own commits only lets repair_index add the records this store wrote "
        "instead of comparing the whole index; without it the whole index is compared, which "
        "restores the same entries and files and counts the same: a cost, not a behaviour",
    ),
    "reconciler.adapters.git_audit.xǁGitAuditStoreǁappend__mutmut_71": (
        "self._commits.add(str(None))",
        "the note of its own commits only lets repair_index add the records this store wrote "
        "instead of comparing the whole index; without it the whole index is compared, which "
        "restores the same entries and files and counts the same: a cost, not a behaviour",
    ),
    "reconciler.adapters.git_audit.xǁGitAuditStoreǁappend__mutmut_96": (
        "target.write_text(record.dumps(), encoding=None)",
        "a record's text is JSON written with ensure_ascii: pure ASCII, the same bytes in "
        "any encoding Python may take (the locale's, utf-8 however it is spelled)",
    ),
    "reconciler.adapters.git_audit.xǁGitAuditStoreǁappend__mutmut_98": (
        "target.write_text(record.dumps(), )",
        "a record's text is JSON written with ensure_ascii: pure ASCII, the same bytes in "
        "any encoding Python may take (the locale's, utf-8 however it is spelled)",
    ),
    "reconciler.adapters.git_audit.xǁGitAuditStoreǁappend__mutmut_100": (
        'encoding="UTF-8"',
        "a record's text is JSON written with ensure_ascii: pure ASCII, the same bytes in "
        "any encoding Python may take (the locale's, utf-8 however it is spelled)",
    ),
    "reconciler.adapters.kubernetes.writes.x__landed__mutmut_12": (
        "stamp = ChangeStamp.loads(text) if (text) or True else None",
        "ChangeStamp.loads answers None itself for a missing or empty annotation",
    ),
    "reconciler.adapters.kubernetes.writes.x__patch_hpa__mutmut_64": (
        "confirm=lambda: _hpa_at(api, namespace, hpa_name, replicas, None),",
        "the service only reaches the read-back's errors, which Transport.write turns into "
        "'not landed' without reading them",
    ),
    "reconciler.adapters.kubernetes.writes.x__before__mutmut_8": (
        'get("resourceVersion", None)) if deployment else None',
        "a cached deployment's missing resourceVersion only meets the expected version, an "
        "observed one: '', 'None' and 'XXXX' all differ from it, so it is read again either way",
    ),
    "reconciler.adapters.kubernetes.writes.x__before__mutmut_10": (
        'get("resourceVersion", )) if deployment else None',
        "a cached deployment's missing resourceVersion only meets the expected version, an "
        "observed one: '', 'None' and 'XXXX' all differ from it, so it is read again either way",
    ),
    "reconciler.adapters.kubernetes.writes.x__before__mutmut_15": (
        'get("resourceVersion", "XXXX")) if deployment else None',
        "a cached deployment's missing resourceVersion only meets the expected version, an "
        "observed one: '', 'None' and 'XXXX' all differ from it, so it is read again either way",
    ),
    "reconciler.adapters.kubernetes.writes.x__before__mutmut_46": (
        'version = str(_meta(deployment).get("resourceVersion", None))',
        "a deployment read again without a resourceVersion only meets the expected version, "
        "which is not empty here: '', 'None' and 'XXXX' all differ from it, so it is a "
        "conflict either way",
    ),
    "reconciler.adapters.kubernetes.writes.x__before__mutmut_48": (
        'version = str(_meta(deployment).get("resourceVersion", ))',
        "a deployment read again without a resourceVersion only meets the expected version, "
        "which is not empty here: '', 'None' and 'XXXX' all differ from it, so it is a "
        "conflict either way",
    ),
    "reconciler.adapters.kubernetes.writes.x__before__mutmut_53": (
        'version = str(_meta(deployment).get("resourceVersion", "XXXX"))',
        "a deployment read again without a resourceVersion only meets the expected version, "
        "which is not empty here: '', 'None' and 'XXXX' all differ from it, so it is a "
        "conflict either way",
    ),
    "reconciler.adapters.kubernetes.writes.x__before__mutmut_33": (
        "hint=_missing(None).hint,",
        "only the hint of _missing is read here, and it names no target: the same text for any",
    ),
    "reconciler.core.planning.stages.x_waiting_text__mutmut_23": (
        'rollout_wait(waiting, history.records) if (due) or True else ""',
        "once the due time has come settled_by is always set, and the wording reads the "
        "rollout only when settled_by is None: the rollout text is never said then",
    ),
    "reconciler.core.planning.stages.x_waiting_text__mutmut_28": (
        'rollout_wait(waiting, history.records) if due else "XXXX"',
        "once the due time has come settled_by is always set, and the wording reads the "
        "rollout only when settled_by is None: the rollout text is never said then",
    ),
    "reconciler.core.review.operations.x_classify_edit__mutmut_37": (
        "result.references[0] if (result.references) or True else",
        "classify_under always names at least one reference (the rules that decided, or governance.agent_authority for an unlisted operation), so the fallback is never taken",
    ),
    "reconciler.core.review.operations.x_classify_edit__mutmut_39": (
        'result.references[0] if result.references else "XXXX"',
        "classify_under always names at least one reference (the rules that decided, or governance.agent_authority for an unlisted operation), so the fallback is never taken",
    ),
    "reconciler.core.review.operations.x__rule_file__mutmut_4": (
        'reference.startswith("catalogue:") and not reference',
        "a review classifies only scale_beyond_limits, the two resource operations and delete_deployment, none of them allowed while unlisted, so no reference is the catalogue's and none is empty (see x_classify_edit__mutmut_37)",
    ),
    "reconciler.core.review.operations.x__rule_file__mutmut_6": (
        'reference.startswith("XXcatalogue:XX")',
        "a review classifies only scale_beyond_limits, the two resource operations and delete_deployment, none of them allowed while unlisted, so no reference is the catalogue's and none is empty (see x_classify_edit__mutmut_37)",
    ),
    "reconciler.core.review.operations.x__rule_file__mutmut_7": (
        'reference.startswith("CATALOGUE:")',
        "a review classifies only scale_beyond_limits, the two resource operations and delete_deployment, none of them allowed while unlisted, so no reference is the catalogue's and none is empty (see x_classify_edit__mutmut_37)",
    ),
    "reconciler.core.review.operations.x__rule_file__mutmut_9": (
        'return "XXXX"',
        "a review classifies only scale_beyond_limits, the two resource operations and delete_deployment, none of them allowed while unlisted, so no reference is the catalogue's and none is empty (see x_classify_edit__mutmut_37)",
    ),
    "reconciler.core.review.operations.x_classify_edit__mutmut_3": (
        "service=None,",
        "the request is only read by condition_values and classify_under, and neither reads a request's service",
    ),
    "reconciler.core.review.operations.x_classify_edit__mutmut_4": (
        "origin=None,",
        "the request is only read by condition_values and classify_under, and neither reads a request's origin",
    ),
    "reconciler.core.review.operations.x_global_policy_of__mutmut_3": (
        "safety=None,",
        "global_policy_of only feeds classify_edit, and classify_under reads a policy's rules, approval and catalogue, never its safety",
    ),
    "reconciler.core.review.paths.x__not_a_proposal__mutmut_19": (
        'parse_yaml(change.content or b"XXXX")',
        "a request file without content and one holding the text XXXX are both not a YAML "
        "mapping: the same reason either way",
    ),
    "reconciler.core.review.rules.x__loosening_verdict__mutmut_48": (
        '"rule_file": POLICIES_FILE if (deciding and deciding.origin == "global") and False else',
        "a loosening's rule is always one of the service's own (see x__reference__mutmut_4), so its file is the blueprint's",
    ),
    "reconciler.core.review.rules.x__loosening_verdict__mutmut_52": (
        'deciding.origin == "XXglobalXX"',
        "a loosening's rule is always one of the service's own (see x__reference__mutmut_4), so its file is the blueprint's",
    ),
    "reconciler.core.review.rules.x__loosening_verdict__mutmut_53": (
        'deciding.origin == "GLOBAL"',
        "a loosening's rule is always one of the service's own (see x__reference__mutmut_4), so its file is the blueprint's",
    ),
    "reconciler.core.review.rules.x__rule_path__mutmut_7": (
        'return ("XXgovernanceXX", "agent_authority")',
        "rule_findings asks only about operations some rule on either side names, so old or new always holds a rule and the fallback path is never returned",
    ),
    "reconciler.core.review.rules.x__rule_path__mutmut_8": (
        'return ("GOVERNANCE", "agent_authority")',
        "rule_findings asks only about operations some rule on either side names, so old or new always holds a rule and the fallback path is never returned",
    ),
    "reconciler.core.review.rules.x__rule_path__mutmut_9": (
        'return ("governance", "XXagent_authorityXX")',
        "rule_findings asks only about operations some rule on either side names, so old or new always holds a rule and the fallback path is never returned",
    ),
    "reconciler.core.review.rules.x__rule_path__mutmut_10": (
        'return ("governance", "AGENT_AUTHORITY")',
        "rule_findings asks only about operations some rule on either side names, so old or new always holds a rule and the fallback path is never returned",
    ),
    "reconciler.core.review.rules.x__reference__mutmut_4": (
        'rule.reference if (rule.origin == "blueprint") or True else',
        "a loosening's rule is always one of the service's own: the inherited global rules are on both sides of the comparison, so none of them is ever lifted",
    ),
    "reconciler.core.review.services.x_problem_finding__mutmut_54": (
        'after=tier or "XX-XX",',
        "the tier is always found (see x__entry_at__mutmut_28), so the default is never shown",
    ),
    "reconciler.core.review.services.x_problem_finding__mutmut_56": (
        "rule_file=POLICIES_FILE if (rule) or True else",
        "the global forbid is always found (see x__global_forbidder__mutmut_6)",
    ),
    "reconciler.core.review.services.x_problem_finding__mutmut_57": (
        'rule_file=POLICIES_FILE if rule else "XXXX",',
        "the global forbid is always found (see x__global_forbidder__mutmut_6)",
    ),
    "reconciler.core.review.services.x__deleted__mutmut_5": (
        "ctx.base.broken.get(service, None)",
        "a deleted service without a blueprint at BASE is one of BASE's broken ones (review_change only asks about services on either side), so the default is never taken",
    ),
    "reconciler.core.review.services.x__deleted__mutmut_7": (
        "ctx.base.broken.get(service, )",
        "a deleted service without a blueprint at BASE is one of BASE's broken ones (review_change only asks about services on either side), so the default is never taken",
    ),
    "reconciler.core.review.services.x__deleted__mutmut_14": (
        'classify_edit("delete_deployment", service=None,',
        "classify_edit puts the service only into the request it classifies, and neither condition_values nor classify_under reads a request's service",
    ),
    "reconciler.core.review.services.x__entry_at__mutmut_7": (
        "None if (document is None) and False else document.data",
        "a loosen_forbidden problem comes from loading this very HEAD file, at the entry it names: the document parses, the path leads to that entry, and the entry is an operation name or a mapping the schema made hold one as text",
    ),
    "reconciler.core.review.services.x__entry_at__mutmut_12": (
        'return "XXXX", ""',
        "a loosen_forbidden problem comes from loading this very HEAD file, at the entry it names: the document parses, the path leads to that entry, and the entry is an operation name or a mapping the schema made hold one as text",
    ),
    "reconciler.core.review.services.x__entry_at__mutmut_13": (
        'return "", "XXXX"',
        "a loosen_forbidden problem comes from loading this very HEAD file, at the entry it names: the document parses, the path leads to that entry, and the entry is an operation name or a mapping the schema made hold one as text",
    ),
    "reconciler.core.review.services.x__entry_at__mutmut_18": (
        'node.get("operation", None)',
        "the schema requires `operation` (text) in every mapping entry, so the default is never taken",
    ),
    "reconciler.core.review.services.x__entry_at__mutmut_20": (
        'node.get("operation", )',
        "the schema requires `operation` (text) in every mapping entry, so the default is never taken",
    ),
    "reconciler.core.review.services.x__entry_at__mutmut_23": (
        'node.get("operation", "XXXX")',
        "the schema requires `operation` (text) in every mapping entry, so the default is never taken",
    ),
    "reconciler.core.review.services.x__entry_at__mutmut_28": (
        "if p in keys), None)",
        "the path of a loosen_forbidden problem is the entry's own, agent_authority.<tier>[i], so it always holds a tier key and the default is never taken",
    ),
    "reconciler.core.review.services.x__entry_at__mutmut_30": (
        "if p in keys), )",
        "the path of a loosen_forbidden problem is the entry's own, agent_authority.<tier>[i], so it always holds a tier key and the default is never taken",
    ),
    "reconciler.core.review.services.x__entry_at__mutmut_38": (
        'if p in keys), "XXXX")',
        "the path of a loosen_forbidden problem is the entry's own, agent_authority.<tier>[i], so it always holds a tier key and the default is never taken",
    ),
    "reconciler.core.review.services.x__entry_at__mutmut_40": (
        '(operation if (isinstance(operation, str)) or True else "")',
        "a loosen_forbidden problem comes from loading this very HEAD file, at the entry it names: the document parses, the path leads to that entry, and the entry is an operation name or a mapping the schema made hold one as text",
    ),
    "reconciler.core.review.services.x__entry_at__mutmut_41": (
        '(operation if isinstance(operation, str) else "XXXX")',
        "a loosen_forbidden problem comes from loading this very HEAD file, at the entry it names: the document parses, the path leads to that entry, and the entry is an operation name or a mapping the schema made hold one as text",
    ),
    "reconciler.core.review.services.x__global_forbidder__mutmut_6": (
        'return "XXXX"',
        "loading reports loosen_forbidden only against an unconditional global forbid of the operation in HEAD's policies, which this looks through (after BASE's), so it always finds one",
    ),
    "reconciler.core.review.fields.x__judge_field__mutmut_14": (
        "**_field_verdict(ctx, None, path, kind, before, old, new),",
        "_field_verdict passes the service only to classify_edit, which reads it for nothing but the request it classifies (see x__resource_verdict__mutmut_31)",
    ),
    "reconciler.core.review.fields.x__higher_is_looser__mutmut_3": (
        "after >= before",
        "a field's judge is only asked about a value that changed",
    ),
    "reconciler.core.decide.checks.x__no_new_restarts__mutmut_27": (
        "expected=said.expected(Bound.AT_MOST, base_restarts, None),",
        "shown() writes a count and a value of no unit alike (`3`): only ms and percent differ",
    ),
    "reconciler.core.decide.checks.x__no_new_restarts__mutmut_32": (
        "actual=said.shown(restarts, None),",
        "shown() writes a count and a value of no unit alike (`3`): only ms and percent differ",
    ),
    "reconciler.core.decide.checks.x__no_new_restarts__mutmut_39": (
        "baseline=said.shown(base_restarts, None),",
        "shown() writes a count and a value of no unit alike (`3`): only ms and percent differ",
    ),
    "reconciler.core.decide.checks.x__pods_ready__mutmut_39": (
        "expected=said.expected(Bound.EXACTLY, state.replicas, None),",
        "shown() writes a count and a value of no unit alike (`3`): only ms and percent differ",
    ),
    "reconciler.core.decide.checks.x__pods_ready__mutmut_44": (
        "actual=said.shown(state.ready_replicas, None),",
        "shown() writes a count and a value of no unit alike (`3`): only ms and percent differ",
    ),
    "reconciler.core.decide.checks.x__replica_count__mutmut_19": (
        "expected=said.expected(Bound.EXACTLY, wanted, None),",
        "shown() writes a count and a value of no unit alike (`3`): only ms and percent differ",
    ),
    "reconciler.core.decide.checks.x__replica_count__mutmut_24": (
        "actual=said.shown(state.replicas, None),",
        "shown() writes a count and a value of no unit alike (`3`): only ms and percent differ",
    ),
    "reconciler.core.decide.checks.x__target_check__mutmut_1": (
        'load: str = "XXXX",',
        "a default every caller overrides: both checks pass `load` (the demand rule's answer)",
    ),
    "reconciler.core.decide.checks.x__target_check__mutmut_32": (
        "actual=said.shown(None, None),",
        "a value that is None is shown as 'unknown' whatever its unit",
    ),
    "reconciler.core.decide.checks.x__utilization_check__mutmut_14": (
        "expected=said.expected(None, 0.0, Unit.PERCENT),",
        "expected() writes '-' for Bound.NONE whatever the value and unit (and for no bound)",
    ),
    "reconciler.core.decide.checks.x__utilization_check__mutmut_15": (
        "expected=said.expected(Bound.NONE, None, Unit.PERCENT),",
        "expected() writes '-' for Bound.NONE whatever the value and unit (and for no bound)",
    ),
    "reconciler.core.decide.checks.x__utilization_check__mutmut_16": (
        "expected=said.expected(Bound.NONE, 0.0, None),",
        "expected() writes '-' for Bound.NONE whatever the value and unit (and for no bound)",
    ),
    "reconciler.core.decide.checks.x__utilization_check__mutmut_20": (
        "expected=said.expected(Bound.NONE, 1.0, Unit.PERCENT),",
        "expected() writes '-' for Bound.NONE whatever the value and unit (and for no bound)",
    ),
    "reconciler.core.decide.checks.x__utilization_check__mutmut_21": (
        "actual=said.shown(None, None),",
        "a value that is None is shown as 'unknown' whatever its unit",
    ),
    "reconciler.core.decide.pending.x_stabilization_for__mutmut_6": (
        'return _STABILIZATION.get(operation or "XXXX", blueprint.scaling.stabilization_period)',
        "no operation is named XXXX: with no operation, '' and 'XXXX' both miss the table",
    ),
    "reconciler.core.decide.verification.x_rollback_work__mutmut_15": (
        'original_id = verification.links.get("operation", None)',
        "read only for a failed verification without an operation link, which names no "
        "change whether the default is '' or None (changes are keyed by a link or a record id)",
    ),
    "reconciler.core.decide.verification.x_rollback_work__mutmut_17": (
        'original_id = verification.links.get("operation", )',
        "read only for a failed verification without an operation link, which names no "
        "change whether the default is '' or None (changes are keyed by a link or a record id)",
    ),
    "reconciler.core.decide.verification.x_rollback_work__mutmut_20": (
        'original_id = verification.links.get("operation", "XXXX")',
        "read only for a failed verification without an operation link (verification_record "
        "always sets one); no change or rollback is keyed '' or 'XXXX' (ids are make_id's)",
    ),
    "reconciler.core.decide.scale_down.x__prove_window__mutmut_14": (
        'evidence_from: datetime | None = ""',
        "read only as a truth value or compared with a sample's time when no sample proved "
        "anything: '' and None give the same answers",
    ),
    "reconciler.core.decide.scale_down.x__prove_window__mutmut_18": (
        "gap: tuple[str, ...] = None",
        "read only as a truth value until a gap is found: () and None are both false",
    ),
    "reconciler.core.review.fields.x__lower_is_looser__mutmut_3": (
        "after <= before",
        "a field's judge is only asked about a value that changed: after == before never "
        "reaches it",
    ),
    "reconciler.core.review.fields.x__max_bound__mutmut_3": (
        "after >= before",
        "a field's judge is only asked about a value that changed",
    ),
    "reconciler.core.review.fields.x__min_bound__mutmut_3": (
        "after <= before",
        "a field's judge is only asked about a value that changed",
    ),
    "reconciler.core.review.fields.x__resource_verdict__mutmut_31": (
        "service=None,",
        "classify_edit puts the service only into the request it classifies, and neither "
        "condition_values nor classify_under reads a request's service",
    ),
    "reconciler.core.review.fields.x__field_verdict__mutmut_4": (
        "service=None,",
        "classify_edit puts the service only into the request it classifies, and neither "
        "condition_values nor classify_under reads a request's service",
    ),
    "reconciler.core.review.fields.x__field_verdict__mutmut_20": (
        "return _resource_verdict(None, path, before, old, new)",
        "_resource_verdict passes the service only to classify_edit, which reads it for "
        "nothing but the request it classifies (see x__resource_verdict__mutmut_31)",
    ),
    "reconciler.core.decide.rules.x__by_rule__mutmut_5": (
        "policy.catalogue.get(name, None).summary",
        "a rule's operation is always in its policy's catalogue (loading refuses an unknown "
        "name, operation.unknown), so the default is never returned",
    ),
    "reconciler.core.decide.rules.x__by_rule__mutmut_7": (
        "policy.catalogue.get(name, ).summary",
        "a rule's operation is always in its policy's catalogue (loading refuses an unknown "
        "name, operation.unknown), so the default is never returned",
    ),
    "reconciler.core.decide.rules.x__by_rule__mutmut_8": (
        'Operation(name=None, summary="")',
        "a rule's operation is always in its policy's catalogue (loading refuses an unknown "
        "name, operation.unknown), so the default is never returned",
    ),
    "reconciler.core.decide.rules.x__by_rule__mutmut_9": (
        "Operation(name=name, summary=None)",
        "a rule's operation is always in its policy's catalogue (loading refuses an unknown "
        "name, operation.unknown), so the default is never returned",
    ),
    "reconciler.core.decide.rules.x__by_rule__mutmut_12": (
        'Operation(name=name, summary="XXXX")',
        "a rule's operation is always in its policy's catalogue (loading refuses an unknown "
        "name, operation.unknown), so the default is never returned",
    ),
    "reconciler.core.review.fields.x__true_is_stricter__mutmut_3": (
        "before or not after",
        "for two different booleans, `before and not after` and `before or not after` agree",
    ),
    "reconciler.core.decide.governance.x__summary__mutmut_5": (
        "return say(reasons[+1])",
        "an operation that is not forbidden and not executable has exactly two reasons (its "
        "tier's and the one _settle adds for it), so reasons[1] is reasons[-1]",
    ),
    "reconciler.core.decide.governance.x__summary__mutmut_13": (
        'return "; ".join(check.detail for check in failing) or say(None)',
        "unreachable fallback: a verdict that is not forbidden and is executable blocks or "
        "defers only for a failing check (_settle), so the joined details are never empty",
    ),
    "reconciler.core.decide.governance.x__summary__mutmut_14": (
        'return "; ".join(check.detail for check in failing) or say(reasons[+1])',
        "unreachable fallback: a verdict that is not forbidden and is executable blocks or "
        "defers only for a failing check (_settle), so the joined details are never empty",
    ),
    "reconciler.core.decide.governance.x__summary__mutmut_15": (
        'return "; ".join(check.detail for check in failing) or say(reasons[-2])',
        "unreachable fallback: a verdict that is not forbidden and is executable blocks or "
        "defers only for a failing check (_settle), so the joined details are never empty",
    ),
    "reconciler.core.blueprint.conditions.x__check__mutmut_16": (
        "close = difflib.get_close_matches(name, NAMES, )",
        "only close[0] is read, and get_close_matches lists the best match first however many "
        "it is asked for",
    ),
    "reconciler.core.blueprint.conditions.x__check__mutmut_17": (
        "close = difflib.get_close_matches(name, NAMES, n=2)",
        "only close[0] is read, and get_close_matches lists the best match first however many "
        "it is asked for",
    ),
    "reconciler.core.blueprint.conditions.x__check__mutmut_86": (
        "raise AssertionError(None)",
        "unreachable: the parser only builds the node types matched above",
    ),
    "reconciler.core.blueprint.conditions.x__format__mutmut_3": (
        "kind = NAMES[name].kind if (name in NAMES) or True else Kind.NUMBER",
        "render_with formats only the names of a condition parse_condition checked, and the "
        "check refuses a name not in NAMES",
    ),
    "reconciler.core.blueprint.condition_syntax.x__tokenize__mutmut_115": (
        'tokens.append(_Token("end", None, len(text) + 1))',
        "the parser reads the end token by its kind and column only: its text is never said "
        "(an unexpected token is always one that is not the end)",
    ),
    "reconciler.core.blueprint.condition_syntax.x__tokenize__mutmut_122": (
        'tokens.append(_Token("end", "XXXX", len(text) + 1))',
        "the parser reads the end token by its kind and column only: its text is never said "
        "(an unexpected token is always one that is not the end)",
    ),
    "reconciler.adapters.kubernetes.writes.x__deployment_moved__mutmut_51": (
        '.get("replicas", None), "spec.replicas"',
        "the answer to a patch is the object as the API server stored it, after "
        "defaulting: apps/v1 always sets spec.replicas (1 when absent), so the fallback "
        "is never read",
    ),
    "reconciler.adapters.kubernetes.writes.x__deployment_moved__mutmut_53": (
        '.get("replicas", ), "spec.replicas"',
        "the answer to a patch is the object as the API server stored it, after "
        "defaulting: apps/v1 always sets spec.replicas (1 when absent), so the fallback "
        "is never read",
    ),
    "reconciler.adapters.git_audit.xǁGitAuditStoreǁlatest__mutmut_36": (
        "sorted(found, key=None, reverse=True)",
        "the pairs sort by their Entry first, a NamedTuple whose first field is the name,"
        " and names are unique in a folder: the same order as sorting by name",
    ),
    "reconciler.adapters.git_audit.xǁGitAuditStoreǁlatest__mutmut_39": (
        "sorted(found, reverse=True)",
        "the pairs sort by their Entry first, a NamedTuple whose first field is the name,"
        " and names are unique in a folder: the same order as sorting by name",
    ),
    "reconciler.adapters.git_audit.xǁGitAuditStoreǁrefresh__mutmut_1": (
        "self._head_known = None",
        "read only as a truth value (`not check and self._head_known`): None and False agree",
    ),
    "reconciler.adapters.git_audit.xǁGitAuditStoreǁservices__mutmut_7": (
        'entry.name or "XXXX"',
        "an entry listed from a tree always has its (non-empty) name; the `or` only "
        "satisfies the type, for pygit2 objects not reached through a tree",
    ),
    "reconciler.adapters.git_audit.xǁGitAuditStoreǁapprovals__mutmut_12": (
        "self._index.select(service, digest, since, None)",
        "select reads head only to pass it to days(), which takes None to mean this "
        "store's HEAD as last looked up (_head_commit()): the very commit approvals "
        "passed",
    ),
    "reconciler.adapters.git_audit.xǁGitAuditStoreǁrepair_index__mutmut_2": (
        "    restored = None",
        "without the mark every repair compares the whole index with HEAD, which restores"
        " the same entries (those this store committed since the index was in step) and "
        "files, and counts the same: a cost, not a behaviour",
    ),
    "reconciler.adapters.git_audit.xǁGitAuditStoreǁrepair_index__mutmut_3": (
        "self._mark.added(None, self._commits, self._written)",
        "without the mark every repair compares the whole index with HEAD, which restores"
        " the same entries (those this store committed since the index was in step) and "
        "files, and counts the same: a cost, not a behaviour",
    ),
    "reconciler.adapters.git_audit.xǁGitAuditStoreǁentries__mutmut_22": (
        "self._misnamed.get(oid, None)",
        "entries sets a folder's misnamed list in the same step as its named one, so once"
        " the loop above has run for an oid the lookup always finds it and the default is"
        " never taken",
    ),
    "reconciler.adapters.git_audit.xǁGitAuditStoreǁentries__mutmut_24": (
        "self._misnamed.get(oid, )",
        "entries sets a folder's misnamed list in the same step as its named one, so once"
        " the loop above has run for an oid the lookup always finds it and the default is"
        " never taken",
    ),
    "reconciler.adapters.git_audit.xǁGitAuditStoreǁread_entry__mutmut_47": (
        "blob = cast(None, self.repo[entry.id])",
        "typing.cast returns its value unchanged whatever type it names: it only informs "
        "the type checker",
    ),
    "reconciler.adapters.git_audit.xǁGitAuditStoreǁread_entry__mutmut_51": (
        'blob = cast("XXpygit2.BlobXX", self.repo[entry.id])',
        "typing.cast returns its value unchanged whatever type it names: it only informs "
        "the type checker",
    ),
    "reconciler.adapters.git_audit.xǁGitAuditStoreǁread_entry__mutmut_52": (
        'blob = cast("pygit2.blob", self.repo[entry.id])',
        "typing.cast returns its value unchanged whatever type it names: it only informs "
        "the type checker",
    ),
    "reconciler.adapters.git_audit.xǁGitAuditStoreǁread_entry__mutmut_53": (
        'blob = cast("PYGIT2.BLOB", self.repo[entry.id])',
        "typing.cast returns its value unchanged whatever type it names: it only informs "
        "the type checker",
    ),
    "reconciler.adapters.git_audit_approvals.xǁApprovalIndexǁselect__mutmut_122": (
        "record.sort_key() >= start.sort_key()",
        "the start record is one after which the day's fold was empty, so it is no request, "
        "update or pending time-out (each leaves its topic open, whatever was open before); "
        "folded first among the records from it on, it finds nothing open and leaves nothing "
        "open",
    ),
    "reconciler.adapters.git_audit_approvals.xǁApprovalIndexǁ_summarize__mutmut_6": (
        "first=dict(before.first),",
        "the day summaries' fold is only asked empty() and carried to the next day, never its "
        "result(); `first` and `flags` always hold the same keys (set together for a request, "
        "update or time-out, popped together at an end), so either one left uncarried leaves "
        "empty() the same",
    ),
    "reconciler.adapters.git_audit_approvals.xǁApprovalIndexǁ_summarize__mutmut_7": (
        "flags={key: dict(value) for key, value in before.flags.items()},",
        "the day summaries' fold is only asked empty() and carried to the next day, never its "
        "result(); `first` and `flags` always hold the same keys (set together for a request, "
        "update or time-out, popped together at an end), so either one left uncarried leaves "
        "empty() the same",
    ),
    "reconciler.core.review.policies.x_global_findings__mutmut_8": (
        "unchanged_and_broken(ctx, None, not base.policies_ok)",
        "for the global policies the file it compares is the policies file it also compares "
        "on its own; with None the first comparison is None == None and the second still "
        "decides, exactly as the two equal comparisons did",
    ),
    "reconciler.core.review.policies.x_global_findings__mutmut_17": (
        'problem_finding(None, "", problem, None)',
        "problem_finding reads the context only for policy.loosen_forbidden, which only a "
        "blueprint's rules raise (check_against_global); the policies file never carries it",
    ),
    "reconciler.core.review.policies.x_global_findings__mutmut_52": (
        "field_findings(ctx, None, base.policies",
        "field_findings reads the service only as a truth value (blueprint or global "
        'policies): None and "" both say the global policies',
    ),
    "reconciler.core.review.policies.x_global_findings__mutmut_88": (
        "rule_findings(ctx, None, base.policies",
        "rule_findings and the findings it builds read the service only as a truth value "
        '(blueprint or global policies): None and "" both say the global policies',
    ),
    "reconciler.core.blueprint.reading.xǁCheckContextǁadd__mutmut_13": (
        "column = (value_column or 2) + column_offset",
        "a value mark is the parser's 0-based column plus one, never 0 or None, so the "
        "fallback after `or` is never taken",
    ),
    "reconciler.core.blueprint.reading.x_by_position__mutmut_7": (
        "key=lambda p: (p.line or 1, p.column or 0)",
        "every problem sorted here comes from CheckContext.add, whose position falls back to "
        "the document's root, which the YAML walk always marks: the line is never None",
    ),
    "reconciler.core.blueprint.reading.x_by_position__mutmut_9": (
        "key=lambda p: (p.line or 0, p.column or 1)",
        "every problem sorted here comes from CheckContext.add, whose column is a mark of the "
        "document (the root's at worst) or a value mark plus an offset: never None or 0",
    ),
    "reconciler.core.blueprint.loading.x__build__mutmut_13": (
        "rules is not None and approval is not None or sections.scaling is not None",
        "with no schema error every section is checked and built, so each part of this "
        "assertion (there to narrow types) is true and `or` holds as `and` does",
    ),
    "reconciler.core.blueprint.loading.x__build__mutmut_14": (
        "rules is not None or approval is not None and sections.scaling is not None",
        "with no schema error every section is checked and built, so each part of this "
        "assertion (there to narrow types) is true and `or` holds as `and` does",
    ),
    "reconciler.core.blueprint.loading.x__build__mutmut_18": (
        "assert sections.performance is not None or sections.resources is not None",
        "with no schema error every section is checked and built, so each part of this "
        "assertion (there to narrow types) is true and `or` holds as `and` does",
    ),
    "reconciler.core.blueprint.loading.x__build__mutmut_21": (
        "assert sections.reliability is not None or sections.cost is not None",
        "with no schema error every section is checked and built, so each part of this "
        "assertion (there to narrow types) is true and `or` holds as `and` does",
    ),
    "reconciler.core.blueprint.loading.x_load_blueprint__mutmut_41": (
        'ctx.add(None, str(error), error.hint, code="unit")',
        "unreachable: the schema's x-unit keyword runs the same unit parsers on every value "
        "with a unit, and a section is built only when it passed the schema, so no UnitError "
        "leaves _build (the Hypothesis property in test_loading feeds it arbitrary documents)",
    ),
    "reconciler.core.blueprint.loading.x_load_blueprint__mutmut_42": (
        'ctx.add((), None, error.hint, code="unit")',
        "unreachable: the schema's x-unit keyword runs the same unit parsers on every value "
        "with a unit, and a section is built only when it passed the schema, so no UnitError "
        "leaves _build (the Hypothesis property in test_loading feeds it arbitrary documents)",
    ),
    "reconciler.core.blueprint.loading.x_load_blueprint__mutmut_43": (
        'ctx.add((), str(error), None, code="unit")',
        "unreachable: the schema's x-unit keyword runs the same unit parsers on every value "
        "with a unit, and a section is built only when it passed the schema, so no UnitError "
        "leaves _build (the Hypothesis property in test_loading feeds it arbitrary documents)",
    ),
    "reconciler.core.blueprint.loading.x_load_blueprint__mutmut_44": (
        "ctx.add((), str(error), error.hint, code=None)",
        "unreachable: the schema's x-unit keyword runs the same unit parsers on every value "
        "with a unit, and a section is built only when it passed the schema, so no UnitError "
        "leaves _build (the Hypothesis property in test_loading feeds it arbitrary documents)",
    ),
    "reconciler.core.blueprint.loading.x_load_blueprint__mutmut_45": (
        'ctx.add(str(error), error.hint, code="unit")',
        "unreachable: the schema's x-unit keyword runs the same unit parsers on every value "
        "with a unit, and a section is built only when it passed the schema, so no UnitError "
        "leaves _build (the Hypothesis property in test_loading feeds it arbitrary documents)",
    ),
    "reconciler.core.blueprint.loading.x_load_blueprint__mutmut_46": (
        'ctx.add((), error.hint, code="unit")',
        "unreachable: the schema's x-unit keyword runs the same unit parsers on every value "
        "with a unit, and a section is built only when it passed the schema, so no UnitError "
        "leaves _build (the Hypothesis property in test_loading feeds it arbitrary documents)",
    ),
    "reconciler.core.blueprint.loading.x_load_blueprint__mutmut_47": (
        'ctx.add((), str(error), code="unit")',
        "unreachable: the schema's x-unit keyword runs the same unit parsers on every value "
        "with a unit, and a section is built only when it passed the schema, so no UnitError "
        "leaves _build (the Hypothesis property in test_loading feeds it arbitrary documents)",
    ),
    "reconciler.core.blueprint.loading.x_load_blueprint__mutmut_48": (
        "ctx.add((), str(error), error.hint, )",
        "unreachable: the schema's x-unit keyword runs the same unit parsers on every value "
        "with a unit, and a section is built only when it passed the schema, so no UnitError "
        "leaves _build (the Hypothesis property in test_loading feeds it arbitrary documents)",
    ),
    "reconciler.core.blueprint.loading.x_load_blueprint__mutmut_49": (
        'ctx.add((), str(None), error.hint, code="unit")',
        "unreachable: the schema's x-unit keyword runs the same unit parsers on every value "
        "with a unit, and a section is built only when it passed the schema, so no UnitError "
        "leaves _build (the Hypothesis property in test_loading feeds it arbitrary documents)",
    ),
    "reconciler.core.blueprint.loading.x_load_blueprint__mutmut_50": (
        'ctx.add((), str(error), error.hint, code="XXunitXX")',
        "unreachable: the schema's x-unit keyword runs the same unit parsers on every value "
        "with a unit, and a section is built only when it passed the schema, so no UnitError "
        "leaves _build (the Hypothesis property in test_loading feeds it arbitrary documents)",
    ),
    "reconciler.core.blueprint.loading.x_load_blueprint__mutmut_51": (
        'ctx.add((), str(error), error.hint, code="UNIT")',
        "unreachable: the schema's x-unit keyword runs the same unit parsers on every value "
        "with a unit, and a section is built only when it passed the schema, so no UnitError "
        "leaves _build (the Hypothesis property in test_loading feeds it arbitrary documents)",
    ),
    "reconciler.core.blueprint.loading.x_load_blueprint__mutmut_52": (
        'blueprint = ""',
        "unreachable: the schema's x-unit keyword runs the same unit parsers on every value "
        "with a unit, and a section is built only when it passed the schema, so no UnitError "
        "leaves _build (the Hypothesis property in test_loading feeds it arbitrary documents)",
    ),
    "reconciler.adapters.git_audit_index.xǁIndexMarkǁadded__mutmut_56": (
        "with contextlib.suppress(OSError, None):",
        "KeyError cannot reach this block: every path's `head.tree[path]` was looked up "
        "in the try above, which raised for a missing one; the OSError of mkdir or "
        "write_bytes is matched by OSError, first in the tuple",
    ),
    "reconciler.adapters.git_audit_index.xǁIndexMarkǁadded__mutmut_58": (
        "with contextlib.suppress(OSError, ):",
        "KeyError cannot reach this block: every path's `head.tree[path]` was looked up "
        "in the try above, which raised for a missing one; the OSError of mkdir or "
        "write_bytes is matched by OSError, first in the tuple",
    ),
    "reconciler.adapters.git_audit_index.xǁIndexMarkǁadded__mutmut_66": (
        "target.write_bytes(cast(None, self.repo[head.tree[path].id]).data)",
        "typing.cast returns its value unchanged whatever type it names: it only informs "
        "the type checker",
    ),
    "reconciler.adapters.git_audit_index.xǁIndexMarkǁadded__mutmut_70": (
        'cast("XXpygit2.BlobXX", self.repo[head.tree[path].id])',
        "typing.cast returns its value unchanged whatever type it names: it only informs "
        "the type checker",
    ),
    "reconciler.adapters.git_audit_index.xǁIndexMarkǁadded__mutmut_71": (
        'cast("pygit2.blob", self.repo[head.tree[path].id])',
        "typing.cast returns its value unchanged whatever type it names: it only informs "
        "the type checker",
    ),
    "reconciler.adapters.git_audit_index.xǁIndexMarkǁadded__mutmut_72": (
        'cast("PYGIT2.BLOB", self.repo[head.tree[path].id])',
        "typing.cast returns its value unchanged whatever type it names: it only informs "
        "the type checker",
    ),
    "reconciler.adapters.git_audit_index.xǁIndexMarkǁ_index_mark__mutmut_5": (
        'read_text("UTF-8")',
        "Python's codec names are case-insensitive: UTF-8 is utf-8",
    ),
    "reconciler.adapters.git_audit_index.xǁIndexMarkǁremember__mutmut_8": (
        "path.parent.mkdir(parents=None, exist_ok=True)",
        "the mark's folder is in repo.path (.git, or .git/worktrees/NAME), which exists "
        "for every repository with an index: there is never a missing parent to create",
    ),
    "reconciler.adapters.git_audit_index.xǁIndexMarkǁremember__mutmut_10": (
        "path.parent.mkdir(exist_ok=True)",
        "the mark's folder is in repo.path (.git, or .git/worktrees/NAME), which exists "
        "for every repository with an index: there is never a missing parent to create",
    ),
    "reconciler.adapters.git_audit_index.xǁIndexMarkǁremember__mutmut_12": (
        "path.parent.mkdir(parents=False, exist_ok=True)",
        "the mark's folder is in repo.path (.git, or .git/worktrees/NAME), which exists "
        "for every repository with an index: there is never a missing parent to create",
    ),
    "reconciler.adapters.git_audit_index.xǁIndexMarkǁremember__mutmut_15": (
        '"index": key}), None)',
        "the mark is json.dumps output (ASCII only: a hex commit id, a size and hex "
        "digits), the same bytes in any ASCII-compatible encoding, which every locale's "
        "is",
    ),
    "reconciler.adapters.git_audit_index.xǁIndexMarkǁremember__mutmut_17": (
        '"index": key}), )',
        "the mark is json.dumps output (ASCII only: a hex commit id, a size and hex "
        "digits), the same bytes in any ASCII-compatible encoding, which every locale's "
        "is",
    ),
    "reconciler.adapters.git_audit_index.xǁIndexMarkǁremember__mutmut_25": (
        '"index": key}), "UTF-8")',
        "Python's codec names are case-insensitive: UTF-8 is utf-8",
    ),
    "reconciler.core.blueprint.rules.x__reference_path__mutmut_13": (
        'parts.append(int(rest.rstrip("XX]XX")))',
        "a rule's reference is format_path of (governance, agent_authority, tier, index), so "
        "the text after '[' is always digits then ']': stripping 'X' as well as ']' from its "
        "end leaves the same digits",
    ),
    "reconciler.adapters.git_audit.xǁGitAuditStoreǁ_service_folders__mutmut_10": (
        'entry.name or "XXXX": Entry(',
        "an entry listed from a tree always has its name, never empty (libgit2 refuses to"
        " parse a tree entry without one; a non-UTF-8 name is decoded, not dropped): the "
        "`or` only satisfies the type, so its fallback is never taken",
    ),
    "reconciler.adapters.git_audit.xǁGitAuditStoreǁ_service_folders__mutmut_11": (
        "None, str(entry.id), entry.type_str, int(entry.filemode)",
        "days(), the only reader of _service_folders, reads a folder's .id and .type_str "
        "alone; the Entry's name and mode are never read, by any code",
    ),
    "reconciler.adapters.git_audit.xǁGitAuditStoreǁ_service_folders__mutmut_14": (
        'entry.name or "", str(entry.id), entry.type_str, None',
        "days(), the only reader of _service_folders, reads a folder's .id and .type_str "
        "alone; the Entry's name and mode are never read, by any code",
    ),
    "reconciler.adapters.git_audit.xǁGitAuditStoreǁ_service_folders__mutmut_19": (
        'entry.name and "", str(entry.id)',
        "days(), the only reader of _service_folders, reads a folder's .id and .type_str "
        "alone; the Entry's name and mode are never read, by any code",
    ),
    "reconciler.adapters.git_audit.xǁGitAuditStoreǁ_service_folders__mutmut_20": (
        'entry.name or "XXXX", str(entry.id)',
        "days(), the only reader of _service_folders, reads a folder's .id and .type_str "
        "alone; the Entry's name and mode are never read, by any code",
    ),
    "reconciler.adapters.git_audit.xǁGitAuditStoreǁlisting__mutmut_22": (
        'Entry(item.name or "XXXX", str(item.id)',
        "an entry listed from a tree always has its name, never empty (libgit2 refuses to"
        " parse a tree entry without one; a non-UTF-8 name is decoded, not dropped): the "
        "`or` only satisfies the type, so its fallback is never taken",
    ),
    "reconciler.adapters.git_audit.xǁGitAuditStoreǁentries__mutmut_1": (
        "    listed = None",
        "_named only spares parsing a folder's names again: without it, listing() answers"
        " the same entries from its own memo by tree id (with no further effect: the "
        "trail cache is asked only on its first call), parse_record_name is pure, and the"
        " misnamed names are noted from _misnamed all the same; a cost, not a behaviour",
    ),
    "reconciler.adapters.git_audit.xǁGitAuditStoreǁentries__mutmut_2": (
        "self._named.get(None)",
        "_named only spares parsing a folder's names again: without it, listing() answers"
        " the same entries from its own memo by tree id (with no further effect: the "
        "trail cache is asked only on its first call), parse_record_name is pure, and the"
        " misnamed names are noted from _misnamed all the same; a cost, not a behaviour",
    ),
    "reconciler.adapters.git_audit.xǁGitAuditStoreǁentries__mutmut_19": (
        "self._named[oid] = None",
        "_named only spares parsing a folder's names again: without it, listing() answers"
        " the same entries from its own memo by tree id (with no further effect: the "
        "trail cache is asked only on its first call), parse_record_name is pure, and the"
        " misnamed names are noted from _misnamed all the same; a cost, not a behaviour",
    ),
    "reconciler.adapters.git_audit.xǁGitAuditStoreǁdays__mutmut_34": (
        "sorted(days, key=None)",
        "the pairs sort by their first item, the day folder's name, and names are unique "
        "in a folder: the same order as sorting by name",
    ),
    "reconciler.adapters.git_audit.xǁGitAuditStoreǁdays__mutmut_36": (
        "sorted(days, )",
        "the pairs sort by their first item, the day folder's name, and names are unique "
        "in a folder: the same order as sorting by name",
    ),
    "reconciler.adapters.git_audit.xǁGitAuditStoreǁ_subtree_of__mutmut_6": (
        "self._subtree_of(commit, None)",
        "every caller asks for one level (audit/): parts[:-1] is then (), whose tree is "
        "the commit's root tree, the same as the None this mutant asks for (falsy, so the"
        " root)",
    ),
    "reconciler.adapters.git_audit.xǁGitAuditStoreǁlisting__mutmut_1": (
        "    found = None",
        "_listed only spares asking again: without it the trail cache (which keeps only "
        "what was saved before) or git answer the same entries for the same tree id, kept"
        " again under the same service and day; a cost, not a behaviour",
    ),
    "reconciler.adapters.git_audit.xǁGitAuditStoreǁlisting__mutmut_2": (
        "self._listed.get(None)",
        "_listed only spares asking again: without it the trail cache (which keeps only "
        "what was saved before) or git answer the same entries for the same tree id, kept"
        " again under the same service and day; a cost, not a behaviour",
    ),
    "reconciler.adapters.git_audit.xǁGitAuditStoreǁlisting__mutmut_34": (
        "self._listed[tree] = None",
        "_listed only spares asking again: without it the trail cache (which keeps only "
        "what was saved before) or git answer the same entries for the same tree id, kept"
        " again under the same service and day; a cost, not a behaviour",
    ),
    "reconciler.adapters.git_audit.xǁGitAuditStoreǁrepair_index__mutmut_20": (
        "self._head_commit(check=None))",
        "the first line of repair_index looked HEAD up with check=True, and nothing "
        "between (the mark, restore_index: the index and files only) commits or moves "
        "HEAD, so the commit as last looked up is the one a fresh lookup finds",
    ),
    "reconciler.adapters.git_audit.xǁGitAuditStoreǁrepair_index__mutmut_21": (
        "self._head_commit(check=False))",
        "the first line of repair_index looked HEAD up with check=True, and nothing "
        "between (the mark, restore_index: the index and files only) commits or moves "
        "HEAD, so the commit as last looked up is the one a fresh lookup finds",
    ),
    "reconciler.adapters.git_audit.xǁGitAuditStoreǁ_subtree_of__mutmut_10": (
        "self._subtree_of(commit, parts[:-2])",
        "every caller asks for one level (audit/): parts[:-2] is then (), as parts[:-1] "
        "is, and its tree the commit's root tree",
    ),
    "reconciler.adapters.git_audit.xǁGitAuditStoreǁtree__mutmut_1": (
        "return cast(None, self.repo[oid])",
        "typing.cast returns its value unchanged whatever type it names: it only informs "
        "the type checker",
    ),
    "reconciler.adapters.git_audit.xǁGitAuditStoreǁtree__mutmut_5": (
        'cast("XXpygit2.TreeXX", self.repo[oid])',
        "typing.cast returns its value unchanged whatever type it names: it only informs "
        "the type checker",
    ),
    "reconciler.adapters.git_audit.xǁGitAuditStoreǁtree__mutmut_6": (
        'cast("pygit2.tree", self.repo[oid])',
        "typing.cast returns its value unchanged whatever type it names: it only informs "
        "the type checker",
    ),
    "reconciler.adapters.git_audit.xǁGitAuditStoreǁtree__mutmut_7": (
        'cast("PYGIT2.TREE", self.repo[oid])',
        "typing.cast returns its value unchanged whatever type it names: it only informs "
        "the type checker",
    ),
    "reconciler.adapters.git_audit.xǁGitAuditStoreǁ_head_commit__mutmut_10": (
        "cast(None, self.repo[head])",
        "typing.cast returns its value unchanged whatever type it names: it only informs "
        "the type checker",
    ),
    "reconciler.adapters.git_audit.xǁGitAuditStoreǁ_head_commit__mutmut_14": (
        'cast("XXpygit2.CommitXX", self.repo[head])',
        "typing.cast returns its value unchanged whatever type it names: it only informs "
        "the type checker",
    ),
    "reconciler.adapters.git_audit.xǁGitAuditStoreǁ_head_commit__mutmut_15": (
        'cast("pygit2.commit", self.repo[head])',
        "typing.cast returns its value unchanged whatever type it names: it only informs "
        "the type checker",
    ),
    "reconciler.adapters.git_audit.xǁGitAuditStoreǁ_head_commit__mutmut_16": (
        'cast("PYGIT2.COMMIT", self.repo[head])',
        "typing.cast returns its value unchanged whatever type it names: it only informs "
        "the type checker",
    ),
    "reconciler.core.blueprint.policies.x__clusters__mutmut_33": (
        "break",
        "only `context` can be empty here: the clusters are read only after the schema "
        "passed, and it requires a non-empty name and identity; context is the last key of "
        "the loop, so leaving the loop at it is skipping it",
    ),
    "reconciler.core.blueprint.policies.x_load_policies__mutmut_4": (
        "key_marks=None",
        "the marks only place a problem, and the built-in policies (an empty document) have "
        "none: builtin_policies asserts they load without one",
    ),
    "reconciler.core.blueprint.policies.x_load_policies__mutmut_5": (
        "value_marks=None",
        "the marks only place a problem, and the built-in policies (an empty document) have "
        "none: builtin_policies asserts they load without one",
    ),
    "reconciler.core.blueprint.sections.x__check_scaling__mutmut_105": (
        "abs(total - 1.0) >= 1e-6",
        "no sum of weights is exactly 1e-6 from 1: within [0.5, 2] total - 1.0 is exact and a "
        "multiple of 2**-53, and the double 1e-6 is not one (1e-6 * 2**53 is not whole)",
    ),
    "reconciler.core.blueprint.sections.x_build_resources__mutmut_2": (
        "cpu_target = None",
        "build_resources gets no scaling only when spec.scaling failed the schema, and "
        "then no blueprint is built: the resource targets are never read, only the "
        "resource checks run, and they do not read the targets",
    ),
    "reconciler.core.blueprint.sections.x_build_resources__mutmut_12": (
        "memory_target = None",
        "build_resources gets no scaling only when spec.scaling failed the schema, and "
        "then no blueprint is built: the resource targets are never read, only the "
        "resource checks run, and they do not read the targets",
    ),
    "reconciler.core.blueprint.sections.x_build_manifests__mutmut_119": (
        'meta.get("name", None)',
        "the schema requires metadata.name (a DNS name, never empty) before a section is "
        'built, so the default of meta.get("name", ...) is never taken',
    ),
    "reconciler.core.blueprint.sections.x_build_manifests__mutmut_121": (
        'meta.get("name", )',
        "the schema requires metadata.name (a DNS name, never empty) before a section is "
        'built, so the default of meta.get("name", ...) is never taken',
    ),
    "reconciler.core.blueprint.sections.x_build_manifests__mutmut_124": (
        'meta.get("name", "XXXX")',
        "the schema requires metadata.name (a DNS name, never empty) before a section is "
        'built, so the default of meta.get("name", ...) is never taken',
    ),
}
#: The score each module is held to.
TARGET = 0.90
_PRAGMA = re.compile(r"#\s*pragma:\s*no mutate\b(.*)$")


def configured() -> list[str]:
    """The modules mutmut may mutate, from pyproject.toml."""
    settings = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["mutmut"]
    return list(settings["only_mutate"])


def module_name(path: str) -> str:
    return path.removesuffix(".py").replace("/", ".")


def split(spec: str) -> tuple[str, tuple[str, ...]]:
    """`path[:function,...]` as the path and the functions (none: the whole module)."""
    path, _, functions = spec.partition(":")
    return path, tuple(name for name in functions.split(",") if name)


def patterns(spec: str) -> list[str]:
    """mutmut's names for the mutants of `spec`: `<module>.x_<function>__mutmut_<n>`, and
    `<module>.xǁ<Class>ǁ<method>__mutmut_<n>` for a method."""
    path, functions = split(spec)
    module = module_name(path)
    if not functions:
        return [f"{module}.*"]
    return [
        pattern
        for name in functions
        for pattern in (f"{module}.x_{name}__mutmut_*", f"{module}.xǁ*ǁ{name}__mutmut_*")
    ]


def _selected(name: str, functions: Sequence[str]) -> bool:
    base = name.rpartition("__mutmut_")[0].rpartition(".")[2]
    return not functions or any(
        base == f"x_{function}" or base.endswith(f"ǁ{function}") for function in functions
    )


@dataclass(frozen=True, kw_only=True)
class Score:
    module: str
    killed: int
    survived: tuple[str, ...]
    #: Survivors listed in EQUIVALENT whose line still matches.
    equivalent: tuple[str, ...]
    #: Mutants no selected test reaches, timeouts, and those not run yet.
    other: dict[str, int]

    @property
    def mutants(self) -> int:
        return self.killed + len(self.survived) + len(self.equivalent) + sum(self.other.values())

    @property
    def score(self) -> float | None:
        judged = self.killed + len(self.survived) + self.other.get("no tests", 0)
        return self.killed / judged if judged else None


def _codes(meta: Path) -> dict[str, int | None]:
    """mutmut's results for one module; a file an interrupted run left half-written stops
    the command with what to do, not a traceback."""
    try:
        codes: dict[str, int | None] = json.loads(meta.read_text())["exit_code_by_key"]
    except (ValueError, KeyError) as error:
        raise SystemExit(
            f"{meta.relative_to(ROOT)} is unreadable ({error}): a run was interrupted while "
            f"writing it; delete it and {meta.name.removesuffix('.meta')} in the same folder, "
            "and run again"
        ) from error
    return codes


def score(spec: str) -> Score | None:
    """What the last run left for `spec` (`path[:function,...]`), or None without results."""
    from mutmut.stats import status_by_exit_code

    path, functions = split(spec)
    meta = ROOT / "mutants" / (path + ".meta")
    if not meta.exists():
        return None
    codes = _codes(meta)
    killed, survived, equivalent, other = 0, [], [], {}
    chosen = {name: code for name, code in codes.items() if _selected(name, functions)}
    for name, code in sorted(chosen.items(), key=lambda item: _number(item[0])):
        status = status_by_exit_code[code]
        if status in ("killed", "timeout", "caught by type check"):
            killed += 1  # a mutant that hangs the tests is noticed too
        elif status == "survived" and _excused(name, path):
            equivalent.append(name)
        elif status == "survived":
            survived.append(name)
        else:
            other[status] = other.get(status, 0) + 1
    return Score(
        module=spec,
        killed=killed,
        survived=tuple(survived),
        equivalent=tuple(equivalent),
        other=other,
    )


def _excused(name: str, path: str) -> bool:
    if name not in EQUIVALENT:
        return False
    line = EQUIVALENT[name][0]
    return any(
        changed[:1] in ("+", "-") and changed[:3] not in ("+++", "---") and line in changed
        for changed in _diff(name, path).splitlines()
    )


def _number(name: str) -> tuple[str, int]:
    base, _, number = name.rpartition("__mutmut_")
    return base, int(number) if number.isdigit() else 0


def equivalents(path: str, root: Path = ROOT) -> list[tuple[int, str]]:
    """The lines marked `# pragma: no mutate`, with the reason written after the mark."""
    found = []
    for number, line in enumerate((root / path).read_text().splitlines(), 1):
        match = _PRAGMA.search(line)
        if match:
            found.append((number, match.group(1).strip(" :-—") or "(no reason given)"))
    return found


def report(specs: Sequence[str], *, diffs: bool = True) -> int:
    """Print the table and the survivors; 1 when a module is under TARGET or not run."""
    rows = [(spec, score(spec)) for spec in specs]
    width = max(40, *(len(spec) for spec in specs))
    print(
        f"{'module':<{width}} {'mutants':>7} {'killed':>6} {'survived':>8} {'equiv.':>6} "
        f"{'score':>6}"
    )
    failing = False
    for spec, result in rows:
        if result is None or result.score is None:
            print(f"{spec:<{width}} {'-':>7} {'-':>6} {'-':>8} {'-':>6} {'not run':>6}")
            failing = True
            continue
        failing |= result.score < TARGET or bool(result.other.get("not checked"))
        extra = ", ".join(f"{n} {status}" for status, n in sorted(result.other.items()))
        print(
            f"{spec:<{width}} {result.mutants:>7} {result.killed:>6} {len(result.survived):>8} "
            f"{len(result.equivalent):>6} {result.score:>6.1%}" + (f"  ({extra})" if extra else "")
        )
    for spec, result in rows:
        path = split(spec)[0]
        marks = equivalents(path)
        if result is not None and result.survived:
            print(f"\n{path}: {len(result.survived)} survived")
            for name in result.survived:
                print(f"  {name}")
                if diffs:
                    print(_indent(_diff(name, path)))
        if result is not None and result.equivalent:
            print(f"\n{path}: equivalent (tests/mutation.py EQUIVALENT)")
            for name in result.equivalent:
                print(f"  {name}: {EQUIVALENT[name][1]}")
        if marks:
            print(f"\n{path}: marked equivalent (# pragma: no mutate)")
            for line, reason in marks:
                print(f"  line {line}: {reason}")
    return 1 if failing else 0


def _diff(name: str, path: str) -> str:
    from mutmut.mutation.diff_apply import get_diff_for_mutant

    try:
        return get_diff_for_mutant(name, path=path)
    except Exception as error:  # an out-of-date mutants/ folder: say so, keep reporting
        return f"(no diff: {error})"


def _indent(text: str) -> str:
    return "\n".join(f"    {line}" for line in text.splitlines())


def refresh_data() -> None:
    """Copy the package's files that are not Python (the JSON Schemas, the init templates)
    into mutants/ again: mutmut copies them once and never again, so after a change they would
    be stale and the tests would run against old schemas."""
    for source in (ROOT / "reconciler").rglob("*"):
        if not source.is_file() or source.suffix in (".py", ".pyc"):
            continue
        target = ROOT / "mutants" / source.relative_to(ROOT)
        if target.parent.is_dir() and (
            not target.exists() or target.read_bytes() != source.read_bytes()
        ):
            shutil.copy2(source, target)


def _mutmut(names: Sequence[str], jobs: int | None, tests: Sequence[str] = ()) -> int:
    """`mutmut run` over `names`, `jobs` test runs at a time (mutmut's default: one per core,
    too many on a machine shared with other work), each mutant against `tests` only when
    given (tests/conftest.py reads MUTATION_TESTS)."""
    refresh_data()
    mutmut = Path(sys.executable).with_name("mutmut")
    limit = ["--max-children", str(jobs)] if jobs else []
    env = {**os.environ, "MUTATION_TESTS": ",".join(tests)}
    return subprocess.run(
        [str(mutmut), "run", *limit, *names], cwd=ROOT, check=False, env=env
    ).returncode


def run(specs: Sequence[str], jobs: int | None = None, tests: Sequence[str] = ()) -> int:
    """mutmut over the mutants of `specs` (every one again), then the report."""
    names = [pattern for spec in specs for pattern in patterns(spec)]
    returncode = _mutmut(names, jobs, tests)
    if returncode != 0:
        print(f"mutmut run failed (exit {returncode})", file=sys.stderr)
        return returncode
    return report(specs)


def rerun(specs: Sequence[str], jobs: int | None = None, tests: Sequence[str] = ()) -> int:
    """mutmut again over what the last run left alive (survivors, equivalents, mutants not
    run yet), after new tests: what it killed stays killed."""
    from mutmut.stats import status_by_exit_code

    names = []
    for spec in specs:
        path, functions = split(spec)
        meta = ROOT / "mutants" / (path + ".meta")
        if not meta.exists():
            names += patterns(spec)
            continue
        codes = _codes(meta)
        names += [
            name
            for name, code in codes.items()
            if _selected(name, functions)
            and status_by_exit_code[code] in ("survived", "not checked", "no tests")
        ]
    if not names:
        return report(specs)
    returncode = _mutmut(names, jobs, tests)
    if returncode != 0:
        print(f"mutmut run failed (exit {returncode})", file=sys.stderr)
        return returncode
    return report(specs)


def main(argv: Sequence[str]) -> int:
    argv = list(argv)
    jobs = None
    if "--jobs" in argv:  # `--jobs N`: at most N test runs at a time
        at = argv.index("--jobs")
        value = argv[at + 1] if at + 1 < len(argv) else ""
        if not value.isdigit() or int(value) < 1:
            print("--jobs needs a number of test runs at a time, e.g. --jobs 1", file=sys.stderr)
            return 2
        jobs = int(value)
        del argv[at : at + 2]
    tests: list[str] = []
    if "--tests" in argv:  # `--tests PATH,PATH`: each mutant against these tests only
        at = argv.index("--tests")
        value = argv[at + 1] if at + 1 < len(argv) else ""
        tests = [path for path in value.split(",") if path]
        missing = [
            path
            for path in tests
            if not (ROOT / path).exists()
            or not (ROOT / path).resolve().is_relative_to(ROOT / "tests")
        ]
        if not tests or missing:
            found = f" (no tests at {', '.join(missing)})" if missing else ""
            print(
                "--tests needs test files or folders, comma-separated, e.g. "
                f"--tests tests/core/test_conditions.py{found}",
                file=sys.stderr,
            )
            return 2
        del argv[at : at + 2]
    command, *modules = argv or ["report"]
    allowed = configured()
    unknown = [m for m in modules if split(m)[0] not in allowed]
    if command not in ("run", "rerun", "report") or unknown:
        if unknown:
            print(
                f"not configured for mutation: {', '.join(unknown)}; add them to "
                "[tool.mutmut] only_mutate in pyproject.toml",
                file=sys.stderr,
            )
        print(
            "usage: python -m tests.mutation run|rerun|report [--jobs N] [--tests PATH,...] "
            "[MODULE ...]",
            file=sys.stderr,
        )
        return 2
    specs = modules or allowed
    if command == "report":
        return report(specs)
    return {"run": run, "rerun": rerun}[command](specs, jobs, tests)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
