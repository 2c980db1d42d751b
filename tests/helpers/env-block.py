#!/usr/bin/env python3
"""env-block.py MODE FILE: look at the git-worktree-ports block of an
env file, byte for byte (docs/env-file.md says where it is).

  outside  write the bytes outside the block to stdout: the file with the
           lines from the begin marker to the end marker removed, each
           with its line end
  block    write the block's lines, markers included, to stdout, as they
           are in the file
  vars     print the NAME=VALUE lines between the markers, without their
           line ends; exit 1 unless each is NAME=VALUE
Exit 1 when the file has no complete block (a begin marker with an end
marker after it); 'outside' of a file without any marker is the file.
"""
import re
import sys

BEGIN = b"# >>> git-worktree-ports >>>"
END = b"# <<< git-worktree-ports <<<"


def fail(msg):
    print("env-block: %s" % msg, file=sys.stderr)
    sys.exit(1)


def main():
    if len(sys.argv) != 3 or sys.argv[1] not in ("outside", "block", "vars"):
        fail("usage: env-block.py outside|block|vars FILE")
    mode, path = sys.argv[1:]
    with open(path, "rb") as f:
        data = f.read()
    lines = data.splitlines(keepends=True)
    begin = next((i for i, l in enumerate(lines) if l.startswith(BEGIN)),
                 None)
    end = None
    if begin is not None:
        end = next((i for i in range(begin + 1, len(lines))
                    if lines[i].startswith(END)), None)
    if begin is None and mode == "outside":
        sys.stdout.buffer.write(data)
        return
    if begin is None or end is None:
        fail("%s: no complete block" % path)
    if mode == "outside":
        sys.stdout.buffer.write(b"".join(lines[:begin] + lines[end + 1:]))
    elif mode == "block":
        sys.stdout.buffer.write(b"".join(lines[begin:end + 1]))
    else:
        for l in lines[begin + 1:end]:
            l = l.rstrip(b"\r\n")
            if not re.fullmatch(rb"[A-Za-z_][A-Za-z0-9_]*=.*", l):
                fail("%s: not NAME=VALUE: %r" % (path, l))
            sys.stdout.buffer.write(l + b"\n")


main()
