#!/usr/bin/env python3
"""json-get.py FILE PATH: print one value of a JSON document ('-': stdin).

PATH is a list of steps, separated by dots:
  name        the member 'name' of an object
  3           element 3 of an array
  [k=v,...]   the elements of an array whose members k... equal v...
              (compared as text); a step after it needs exactly one match
  #           the length of an array or object
  @keys       the names of an object's members, sorted, one a line
  @type       null, bool, number, string, array or object
An empty PATH is the whole document. Strings print as they are, null,
true and false as such, arrays and objects as compact sorted JSON. A step
that does not exist is an error (exit 1), never a silent empty answer.
"""
import json
import re
import sys

STEP = re.compile(r"\[([^\]]*)\]|([^.\[]+)|\.")


def fail(msg):
    print("json-get: %s" % msg, file=sys.stderr)
    sys.exit(1)


def text(v):
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float, str)):
        return str(v)
    return json.dumps(v, sort_keys=True, separators=(",", ":"))


def kind(v):
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "bool"
    if isinstance(v, (int, float)):
        return "number"
    if isinstance(v, str):
        return "string"
    return "array" if isinstance(v, list) else "object"


def main():
    if len(sys.argv) != 3:
        fail("usage: json-get.py FILE PATH")
    path = sys.argv[2]
    try:
        if sys.argv[1] == "-":
            doc = json.load(sys.stdin)
        else:
            with open(sys.argv[1]) as f:
                doc = json.load(f)
    except (OSError, ValueError) as e:
        fail("%s: %s" % (sys.argv[1], e))
    cur = doc
    filtered = False
    for m in STEP.finditer(path):
        sel, name = m.group(1), m.group(2)
        if sel is None and name is None:
            continue
        if filtered and name not in ("#", "@type"):
            if len(cur) != 1:
                fail("%s: %d elements match before %r" % (path, len(cur),
                                                         name or sel))
            cur = cur[0]
            filtered = False
        if sel is not None:
            if not isinstance(cur, list):
                fail("%s: [%s] on %s" % (path, sel, kind(cur)))
            conds = [c.split("=", 1) for c in sel.split(",")]
            cur = [e for e in cur if isinstance(e, dict) and
                   all(k in e and text(e[k]) == v for k, v in conds)]
            filtered = True
        elif name == "#":
            if not isinstance(cur, (list, dict)):
                fail("%s: # on %s" % (path, kind(cur)))
            cur = len(cur)
            filtered = False
        elif name == "@keys":
            if not isinstance(cur, dict):
                fail("%s: @keys on %s" % (path, kind(cur)))
            print("\n".join(sorted(cur)))
            return
        elif name == "@type":
            cur = kind(cur)
            filtered = False
        elif isinstance(cur, list) and re.fullmatch(r"[0-9]+", name):
            if int(name) >= len(cur):
                fail("%s: no element %s" % (path, name))
            cur = cur[int(name)]
        elif isinstance(cur, dict):
            if name not in cur:
                fail("%s: no member %r" % (path, name))
            cur = cur[name]
        else:
            fail("%s: %r on %s" % (path, name, kind(cur)))
    if filtered:
        if len(cur) != 1:
            fail("%s: %d elements match" % (path, len(cur)))
        cur = cur[0]
    print(text(cur))


main()
