"""CONTRIBUTING.md's layout map names every module of the package, and only modules that exist."""

from __future__ import annotations

from tests.conftest import REPO


def layout_map() -> str:
    text = (REPO / "CONTRIBUTING.md").read_text()
    start = text.index("```text\n", text.index("## Layout")) + len("```text\n")
    return text[start : text.index("```\n", start)]


def mapped_files(tree: str) -> set[str]:
    """The file paths of an indented tree: `core/` at one depth, `units.py` inside it."""
    files: set[str] = set()
    folders: list[tuple[int, str]] = []  # (indent, name) of the enclosing folders
    for line in tree.splitlines():
        if not line.strip():
            continue
        indent = len(line) - len(line.lstrip())
        name = line.split()[0]
        while folders and folders[-1][0] >= indent:
            folders.pop()
        if name.endswith("/"):
            folders.append((indent, name))
        else:
            files.add("".join(folder for _, folder in folders) + name)
    return files


def package_modules() -> set[str]:
    """Every module of `reconciler/`; an empty `__init__.py` only marks its folder a package."""
    return {
        path.relative_to(REPO).as_posix()
        for path in (REPO / "reconciler").rglob("*.py")
        if path.name != "__init__.py" or path.read_text().strip()
    }


def test_the_tree_parser_reads_nesting() -> None:
    tree = "a/\n  x.py  one\n  b/\n    y.py  two\n  z.py\nc.py\n"
    assert mapped_files(tree) == {"a/x.py", "a/b/y.py", "a/z.py", "c.py"}


def test_every_module_has_a_line_in_the_layout_map() -> None:
    missing = package_modules() - mapped_files(layout_map())
    assert not missing, f"add these to the layout map in CONTRIBUTING.md: {sorted(missing)}"


def test_the_layout_map_names_no_module_that_is_gone() -> None:
    mapped = {path for path in mapped_files(layout_map()) if path.startswith("reconciler/")}
    gone = {path for path in mapped if path.endswith(".py") and not (REPO / path).is_file()}
    assert not gone, f"remove these from the layout map in CONTRIBUTING.md: {sorted(gone)}"


def test_every_line_of_the_map_says_what_its_module_is_for() -> None:
    for line in layout_map().splitlines():
        words = line.split()
        if words and words[0].endswith(".py"):
            assert len(words) > 2, f"say what {words[0]} is for: {line!r}"


def test_the_module_scan_is_not_vacuous() -> None:
    modules = package_modules()
    assert {"reconciler/core/blueprint/loading.py", "reconciler/cli/__init__.py"} <= modules
    assert "reconciler/core/__init__.py" not in modules  # empty: a package marker
