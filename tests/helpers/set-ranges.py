#!/usr/bin/env python3
"""set-ranges.py REGISTRY NAME:START-END... : replace the ranges of a
registry (keeping everything else), for tests that need small ranges."""
import json
import sys

path = sys.argv[1]
with open(path) as f:
    reg = json.load(f)
reg["ranges"] = {}
for spec in sys.argv[2:]:
    name, span = spec.split(":")
    start, end = span.split("-")
    reg["ranges"][name] = {"start": int(start), "end": int(end),
                           "description": "test range " + name}
with open(path, "w") as f:
    json.dump(reg, f, indent=2)
    f.write("\n")
