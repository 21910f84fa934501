#!/usr/bin/env python3
"""Enforces the plugin boundary on #include lines (STYLE.md, "The plugin boundary").

1. Plugins (plugins/, sdk/examples/) include only SDK headers: none may include a header from
   core/, whether spelled "core/...", <core/...>, or a relative path that leads into core/.
2. The public SDK headers (sdk/include/) use only std:: and sluice::sdk:: types: none may include
   toml++, spdlog, Boost or fmt.

Prints file:line: reason for every violation and exits 1 if there is any, 0 otherwise.

Usage: check_plugin_includes.py [--root REPO]
"""

import argparse
import re
import sys
from pathlib import Path

SOURCE_SUFFIXES = {".c", ".cc", ".cpp", ".cxx", ".h", ".hh", ".hpp", ".hxx", ".ipp", ".inl", ".tpp"}
INCLUDE_RE = re.compile(r'^\s*#\s*(?:include|include_next|import)\s*([<"])([^>"]+)[>"]')
HAS_INCLUDE_RE = re.compile(r'__has_include(?:_next)?\s*\(\s*([<"])([^>"]+)[>"]\s*\)')
# First path component of headers that must stay out of the public SDK.
FORBIDDEN_IN_SDK = {
    "toml++": "toml++",
    "spdlog": "spdlog",
    "boost": "Boost",
    "fmt": "fmt",
}
FORBIDDEN_SDK_FILES = {"toml.hpp": "toml++", "toml.h": "toml++"}


def strip_comments(lines):
    """Yields (line_number, text) with /* */ and // comments removed (good enough for #include)."""
    in_block = False
    for number, line in enumerate(lines, 1):
        out = []
        i = 0
        while i < len(line):
            if in_block:
                end = line.find("*/", i)
                if end < 0:
                    i = len(line)
                else:
                    in_block = False
                    i = end + 2
                continue
            if line.startswith("/*", i):
                in_block = True
                i += 2
                continue
            if line.startswith("//", i):
                break
            if line[i] in "\"'":
                # Keep string literals whole so that "/*" inside one does not open a comment.
                quote = line[i]
                j = i + 1
                while j < len(line) and line[j] != quote:
                    j += 2 if line[j] == "\\" else 1
                out.append(line[i : j + 1])
                i = j + 1
                continue
            out.append(line[i])
            i += 1
        yield number, "".join(out)


def includes(path: Path):
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError as e:
        print(f"{path}: cannot read: {e.strerror}", file=sys.stderr)
        return
    for number, line in strip_comments(text.splitlines()):
        m = INCLUDE_RE.match(line)
        if m:
            yield number, m.group(1), m.group(2).strip()
        for m in HAS_INCLUDE_RE.finditer(line):
            yield number, m.group(1), m.group(2).strip()


def source_files(directory: Path):
    if not directory.is_dir():
        return []
    return sorted(p for p in directory.rglob("*") if p.is_file() and p.suffix in SOURCE_SUFFIXES)


def leads_into_core(root: Path, including_file: Path, target: str) -> bool:
    parts = [p for p in target.split("/") if p not in ("", ".")]
    # "core/x.hpp" or "../../core/x.hpp" spelled from the repository root or from anywhere.
    while parts and parts[0] == "..":
        parts.pop(0)
    if parts and parts[0] == "core":
        return True
    # A relative path that resolves into <root>/core from the including file's directory.
    resolved = (including_file.parent / target).resolve()
    core_dir = (root / "core").resolve()
    return resolved == core_dir or core_dir in resolved.parents


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--root",
        type=Path,
        default=Path(__file__).resolve().parent.parent,
        help="repository root (default: the parent of tests/)",
    )
    args = parser.parse_args()
    root = args.root.resolve()

    problems = []

    # No exemption: plugins/testing/ too (its host_context.hpp is implemented in core).
    plugin_files = source_files(root / "plugins") + source_files(root / "sdk" / "examples")
    for f in plugin_files:
        for number, _, target in includes(f):
            if leads_into_core(root, f, target):
                problems.append(
                    f"{f.relative_to(root)}:{number}: includes '{target}' from core/; plugins may "
                    "include only SDK headers (<sluice/sdk/...>)"
                )

    sdk_headers = source_files(root / "sdk" / "include")
    for f in sdk_headers:
        for number, _, target in includes(f):
            first = target.split("/")[0]
            lib = FORBIDDEN_IN_SDK.get(first) or FORBIDDEN_SDK_FILES.get(target)
            if lib:
                problems.append(
                    f"{f.relative_to(root)}:{number}: includes '{target}'; public SDK headers "
                    f"must not depend on {lib} (use only std:: and sluice::sdk:: types)"
                )

    for p in problems:
        print(p)
    if problems:
        print(f"{len(problems)} include violation(s) of the plugin boundary")
        return 1
    print(
        f"plugin includes ok: {len(plugin_files)} plugin source file(s), "
        f"{len(sdk_headers)} SDK header(s) checked"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
