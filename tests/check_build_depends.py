#!/usr/bin/env python3
"""Checks that the Debian package's Build-Depends (scripts/debian/control) name every package the
build needs, as scripts/packages.sh lists them in BUILD_PACKAGES: dpkg-buildpackage checks only
what control names, so a package missing there builds here (where scripts/packages.sh installed
it) and fails on a clean build machine."""

import os
import re
import subprocess
import sys

ROOT = os.environ.get("SLUICE_SOURCE_ROOT", os.path.join(os.path.dirname(__file__), ".."))

build = subprocess.run(
    ["bash", "-c", 'source scripts/packages.sh && printf "%s\\n" "${BUILD_PACKAGES[@]}"'],
    cwd=ROOT, capture_output=True, text=True, check=True).stdout.split()
with open(os.path.join(ROOT, "scripts", "debian", "control")) as f:
    control = f.read()
field = re.search(r"^Build-Depends:(.*?)(?=^\S|\Z)", control, re.M | re.S)
if not field:
    sys.exit("scripts/debian/control: no Build-Depends field")
declared = {re.sub(r"\(.*?\)|\[.*?\]", "", d).strip() for d in field.group(1).split(",")}
missing = sorted(set(build) - declared)
if missing:
    sys.exit("scripts/debian/control: Build-Depends lacks " + ", ".join(missing) +
             " (in BUILD_PACKAGES of scripts/packages.sh)")
print(f"Build-Depends names all {len(set(build))} build packages")
