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
    if not review.findings:
        headline = "### ✅ Blueprint check passes: no change to what the blueprints allow"
    elif not review.ok:
        failing = review.count(ChangeClass.FORBIDDEN) + review.count(ChangeClass.INVALID)
        headline = (
            f"### ❌ Blueprint check fails: {failing} "
            f"change{'s' * (failing != 1)} forbidden or invalid"
        )
    elif review.approvers:
        headline = "### ⚠️ Blueprint check passes; merging needs approval"
    else:
        headline = "### ✅ Blueprint check passes: every change is allowed"
    lines = [
        COMMENT_MARKER,
        headline,
        "",
        f"Comparing `{base}` → `{head}`. Every edit is judged by the rules at `{base}`, "
        "so a pull request cannot grant itself permission or name its own approvers.",
        "",
    ]
    if review.findings:
        lines += [
            "| | service | field | before → after | kind | class | operation | approvers |",
            "|---|---|---|---|---|---|---|---|",
        ]
        for f in review.findings:
            lines.append(
                "| "
                + " | ".join(
                    [
                        _ICONS[f.change_class],
                        _cell(f.subject),
                        _code(f.path or f.file),
                        _cell(f"{f.before} → {f.after}"),
                        _cell(str(f.kind).replace("_", " ")),
                        _cell(str(f.change_class).replace("_", " ")),
                        _code(f.operation) if f.operation else "-",
                        _cell(", ".join(f.approvers) or "-"),
                    ]
                )
                + " |"
            )
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
