#!/usr/bin/env python3
"""Checks that the plugin SDK headers match the hash recorded in sdk/ABI_HASH.

A plugin .so is compiled against sdk/include/**/*.hpp; the host refuses a plugin whose ABI
major/minor differ from its own. So any change to those headers must be a deliberate decision
about SLUICE_SDK_ABI_MAJOR/MINOR. This check makes the decision visible: editing a header changes
the hash, the check fails, and whoever edited it bumps the version if the ABI changed and records
the new hash with --update.

The hash is sha256 over, for each header in sorted order of its path relative to sdk/include
(with '/' separators): the path, a NUL byte, the file's bytes, a NUL byte.

Usage: check_sdk_abi_hash.py [--root REPO] [--update]
Exit status: 0 match (or updated), 1 mismatch, 2 usage or I/O error.
"""

import argparse
import hashlib
import sys
from pathlib import Path

BUMP_MESSAGE = (
    "sdk/ headers changed: bump SLUICE_SDK_ABI_MINOR/MAJOR in sdk/include/sluice/sdk/version.hpp "
    "if the ABI changed, then write the new hash to sdk/ABI_HASH"
)


def compute_hash(include_dir: Path) -> tuple[str, int]:
    headers = sorted(
        (p for p in include_dir.rglob("*.hpp") if p.is_file()),
        key=lambda p: p.relative_to(include_dir).as_posix(),
    )
    h = hashlib.sha256()
    for p in headers:
        h.update(p.relative_to(include_dir).as_posix().encode("utf-8"))
        h.update(b"\0")
        h.update(p.read_bytes())
        h.update(b"\0")
    return h.hexdigest(), len(headers)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--root",
        type=Path,
        default=Path(__file__).resolve().parent.parent,
        help="repository root (default: the parent of tests/)",
    )
    parser.add_argument(
        "--update", action="store_true", help="write the current hash to sdk/ABI_HASH"
    )
    args = parser.parse_args()

    include_dir = args.root / "sdk" / "include"
    hash_file = args.root / "sdk" / "ABI_HASH"
    if not include_dir.is_dir():
        print(f"error: {include_dir}: no such directory", file=sys.stderr)
        return 2

    current, count = compute_hash(include_dir)
    if count == 0:
        print(f"error: {include_dir}: no *.hpp headers found", file=sys.stderr)
        return 2

    if args.update:
        hash_file.write_text(
            f"{current}  sha256 of sdk/include/**/*.hpp ({count} headers); "
            "update with tests/check_sdk_abi_hash.py --update\n"
        )
        print(f"wrote {current} to {hash_file}")
        return 0

    try:
        tokens = hash_file.read_text().split()
    except OSError as e:
        print(f"error: cannot read {hash_file}: {e.strerror}", file=sys.stderr)
        print(f"the current hash is {current}; record it with {sys.argv[0]} --update",
              file=sys.stderr)
        return 2
    recorded = tokens[0] if tokens else ""

    if recorded == current:
        print(f"sdk ABI hash ok: {current} ({count} headers)")
        return 0

    print(f"recorded hash (sdk/ABI_HASH): {recorded or '<empty>'}")
    print(f"current hash:                 {current}")
    print(BUMP_MESSAGE)
    print(f"(`{Path(sys.argv[0]).name} --update` writes it)")
    return 1


if __name__ == "__main__":
    sys.exit(main())
