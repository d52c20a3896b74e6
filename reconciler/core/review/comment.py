"""The pull request comment of a review: a table of the findings, in Markdown."""

from __future__ import annotations

from reconciler.core.review.findings import COMMENT_MARKER, ChangeClass, Review

__all__ = ["render_markdown"]


_ICONS = {
    ChangeClass.ALLOWED: "✅",
    ChangeClass.REQUIRES_APPROVAL: "⚠️",
    ChangeClass.FORBIDDEN: "❌",
    ChangeClass.INVALID: "❌",
}


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ") or " "


def _code(text: str) -> str:
    return f"`{text}`" if text and "`" not in text else _cell(text)


def render_markdown(review: Review) -> str:
    """The body of the pull request comment; starts with the marker that finds it again."""
    base, head = review.base.label, review.head.label
    lines = [
        COMMENT_MARKER,
        _headline(review),
        "",
        f"Comparing `{base}` → `{head}`. Every edit is judged by the rules at `{base}`, "
        "so a pull request cannot grant itself permission or name its own approvers.",
        "",
    ]
    if review.findings:
        lines += _table(review)
        lines += ["", "<details><summary>Why, edit by edit</summary>", ""]
        for f in review.findings:
            rule = f" Rule: `{f.rule}`" + (f" in `{f.rule_file}`" if f.rule_file else "") + "."
            field_path = f" {_cell(f.path)}" if f.path else ""
            lines.append(
                f"- **{_cell(f.subject)}** `{f.location()}`{field_path}: "
                f"{_cell(f.reason.rstrip('.'))}.{rule if f.rule else ''}"
            )
        lines += ["", "</details>", ""]
    if review.approvers:
        lines.append(
            "**Approval needed from:** "
            + "; ".join(_cell(review.expand(name)) for name in review.approvers)
        )
        lines.append("")
        lines.append(
            "Merging is the approval: branch protection requires a review from the code owners "
            "(`reconciler codeowners`), who are these approvers."
        )
        lines.append("")
    for note in review.notes:
        lines.append(f"> {_cell(note)}")
    return "\n".join(lines).rstrip() + "\n"


def _headline(review: Review) -> str:
    """Passes or fails, and whether merging needs approval, in one line."""
    if not review.findings:
        return "### ✅ Blueprint check passes: no change to what the blueprints allow"
    if not review.ok:
        failing = review.count(ChangeClass.FORBIDDEN) + review.count(ChangeClass.INVALID)
        return (
            f"### ❌ Blueprint check fails: {failing} "
            f"change{'s' * (failing != 1)} forbidden or invalid"
        )
    if review.approvers:
        return "### ⚠️ Blueprint check passes; merging needs approval"
    return "### ✅ Blueprint check passes: every change is allowed"


def _table(review: Review) -> list[str]:
    """One row per finding: what changed, from what to what, its class and its approvers."""
    lines = [
        "| | service | field | before → after | kind | class | operation | approvers |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for f in review.findings:
        cells = [
            _ICONS[f.change_class],
            _cell(f.subject),
            _code(f.path or f.file),
            _cell(f"{f.before} → {f.after}"),
            _cell(str(f.kind).replace("_", " ")),
            _cell(str(f.change_class).replace("_", " ")),
            _code(f.operation) if f.operation else "-",
            _cell(", ".join(f.approvers) or "-"),
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return lines
