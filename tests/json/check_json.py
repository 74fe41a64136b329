#!/usr/bin/env python3
"""Every command's --json output against docs/json.md (issue 16).

Runs the scenario scripts of tests/json/ and a list of failing command lines through
`qscope --json`, parses every line of standard output strictly (one object a line, no key
twice in any object: Python's json keeps the last of two equal keys, so each object's pairs
are checked before they become a dict) and fails on
  - a key that docs/json.md does not list for the command, or a value of another type than
    the one listed there (a number written as a string, say);
  - a command of the command table (`qscope --json -c help`) that no scenario ran
    successfully, or that has no section in docs/json.md, and a section for no command;
  - a failure whose object does not name the command that failed, or has another code;
  - a `report` file whose sections are not the documented objects of their commands.

usage: check_json.py QSCOPE DOCS_JSON_MD WORKDIR   (run from the source tree)
"""
import json
import os
import re
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
# The scenarios, run in order with `--json --batch`; a command of the table that none runs
# fails the test: add a line running it to one of them.
SCENARIOS = ["classify.qs", "models.qs"]
# Lines that must fail: (command line, the command the failure names, its code).
FAILURES = [
    ("load /nonexistent/model.qsm", "load", "io"),
    ("frobnicate 1", "frobnicate", "not found"),
    ("eval", "eval", "invalid"),
    ("load models/mnist_dw.qsm; eval bogus=1", "eval", "invalid"),
    ('echo "unterminated', "echo", "invalid"),
    ("echo ${undefined_variable}", "echo", "invalid"),
    ("source /nonexistent/script.qs", "source", "io"),
    ("source tests/json/failing.qs", "source", "invalid"),
    ("check accuracy >= 1", "check", "not found"),
    # two parts of one name would be two bytes_<part> columns of one name
    ("init tests/json/dup_parts.json; data calib synth:deepsets n=20 seed=3; pick drop<=10%",
     "pick", "format"),
]
TYPES = {"int", "number", "text", "bool", "range", "ints", "table", "lines", "result"}

errors = []


def fail(msg):
    errors.append(msg)


def parse_docs(path):
    """docs/json.md: `### \\`name\\`` sections, each followed by a `| key | type | meaning |`
    table; the table of `## Keys that vary` maps a <placeholder> to what it matches;
    `## Every result`, `## Failures` and `## The report file` are the keys every result
    shares, a failure's and those of `report`'s file."""
    docs, placeholders, sections = {}, {}, {}
    current, kind = None, None
    for line in open(path, encoding="utf-8"):
        line = line.rstrip("\n")
        if line.startswith("## "):
            current, kind = line[3:].strip(), "section"
            sections.setdefault(current, {})
            continue
        if line.startswith("### "):
            names = re.findall(r"`([^`]+)`", line)
            current, kind = names, "command"
            for n in names:
                if n in docs:
                    fail(f"docs: command '{n}' has two sections")
                docs[n] = {}
            continue
        if not line.startswith("| `"):
            continue
        cols = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cols) < 3:
            fail(f"docs: row without key, type and meaning: {line}")
            continue
        key = cols[0].strip("`")
        if current == "Keys that vary" and kind == "section":
            # one item in backticks is a regular expression, several are the words it is
            items = re.findall(r"`([^`]+)`", cols[1])
            placeholders[key] = (items[0] if len(items) == 1 else
                                 "|".join(re.escape(i) for i in items))
            continue
        typ = cols[1]
        if typ not in TYPES:
            fail(f"docs: key '{key}' has type '{typ}' (one of {sorted(TYPES)})")
        if kind == "command":
            for n in current:
                if key in docs[n]:
                    fail(f"docs: '{n}' lists '{key}' twice")
                docs[n][key] = typ
        elif kind == "section":
            sections[current][key] = typ
    return docs, placeholders, sections


def key_matcher(placeholders):
    """A documented key with <name> placeholders as a regular expression."""
    cache = {}

    def compile_key(key):
        if key not in cache:
            parts = re.split(r"(<[a-z_]+>)", key)
            rx = ""
            for p in parts:
                if p.startswith("<") and p.endswith(">"):
                    if p not in placeholders:
                        fail(f"docs: placeholder {p} in '{key}' is not in ## Keys that vary")
                        rx += ".+"
                    else:
                        rx += "(?:" + placeholders[p] + ")"
                else:
                    rx += re.escape(p)
            cache[key] = re.compile("^" + rx + "$")
        return cache[key]

    def lookup(table, key):
        if key in table:
            return table[key]
        for k, typ in table.items():
            if "<" in k and compile_key(k).match(key):
                return typ
        return None

    return lookup


def strict_object(line, where):
    """One line as one JSON object; a key twice in any object is an error."""
    def pairs_hook(pairs):
        seen = set()
        for k, _ in pairs:
            if k in seen:
                fail(f"{where}: key '{k}' twice in one object: {line[:200]}")
            seen.add(k)
        return dict(pairs)

    try:
        o = json.loads(line, object_pairs_hook=pairs_hook)
    except json.JSONDecodeError as e:
        fail(f"{where}: not one JSON object ({e}): {line[:200]}")
        return None
    if not isinstance(o, dict):
        fail(f"{where}: not an object: {line[:200]}")
        return None
    return o


def is_number(v):
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def type_ok(typ, v):
    """Whether v is what `typ` says (docs/json.md, ## Types)."""
    if typ == "table":
        return isinstance(v, list) and all(isinstance(r, dict) for r in v)
    if typ == "lines":
        return isinstance(v, list) and all(isinstance(s, str) for s in v)
    if typ == "result":
        return isinstance(v, dict)
    if v is None:
        return True
    if typ == "int":
        return isinstance(v, int) and not isinstance(v, bool)
    if typ == "number":
        return is_number(v) or v in ("inf", "-inf")
    if typ == "text":
        return isinstance(v, str)
    if typ == "bool":
        return isinstance(v, bool)
    if typ == "ints":
        return isinstance(v, list) and all(
            isinstance(x, int) and not isinstance(x, bool) for x in v)
    if typ == "range":
        return isinstance(v, list) and len(v) == 2 and all(
            is_number(x) or x in ("inf", "-inf") for x in v)
    return False


def check_result(o, docs, sections, lookup, where, seen):
    cmd = o.get("cmd")
    if not isinstance(cmd, str) or o.get("ok") is not True:
        fail(f"{where}: a result needs a text cmd and ok: true: {str(o)[:200]}")
        return
    seen.add(cmd)
    if cmd not in docs:
        fail(f"{where}: command '{cmd}' has no section in docs/json.md")
        return
    doc = docs[cmd]
    for key, v in o.items():
        typ = sections["Every result"].get(key) or lookup(doc, key)
        if typ is None:
            fail(f"{where}: {cmd}: key '{key}' is not in docs/json.md")
            continue
        if not type_ok(typ, v):
            fail(f"{where}: {cmd}: '{key}' should be {typ}, got {json.dumps(v)[:80]}")
            continue
        if typ == "table":
            for row in v:
                for col, cv in row.items():
                    ctyp = lookup(doc, key + "." + col)
                    if ctyp is None:
                        fail(f"{where}: {cmd}: column '{key}.{col}' is not in docs/json.md")
                    elif not type_ok(ctyp, cv):
                        fail(f"{where}: {cmd}: '{key}.{col}' should be {ctyp}, "
                             f"got {json.dumps(cv)[:80]}")


def check_failure(o, sections, where, want_cmd, want_code):
    for key, v in o.items():
        typ = sections["Failures"].get(key)
        if typ is None:
            fail(f"{where}: failure key '{key}' is not in docs/json.md (## Failures)")
        elif not type_ok(typ, v) or v is None:
            fail(f"{where}: failure '{key}' should be {typ}, got {json.dumps(v)}")
    if o.get("ok") is not False:
        fail(f"{where}: a failure needs ok: false")
    if o.get("cmd") != want_cmd:
        fail(f"{where}: the failure names cmd {json.dumps(o.get('cmd'))}, not '{want_cmd}'")
    if o.get("code") != want_code:
        fail(f"{where}: code {json.dumps(o.get('code'))}, expected '{want_code}'")
    if not o.get("error"):
        fail(f"{where}: a failure without a message")


def run(qscope, args):
    p = subprocess.run([qscope, "--json"] + args, capture_output=True, text=True,
                       encoding="utf-8", errors="strict")
    return p.returncode, p.stdout.splitlines(), p.stderr


def check_report(path, docs, sections, lookup):
    text = open(path, encoding="utf-8").read()
    doc = strict_object(text, path)  # indented, so one object over many lines
    if doc is None:
        return
    for key, v in doc.items():
        typ = sections["The report file"].get(key)
        if typ is None:
            fail(f"{path}: report key '{key}' is not in docs/json.md (## The report file)")
        elif not type_ok(typ, v):
            fail(f"{path}: report '{key}' should be {typ}")
        elif typ == "result" and list(v) != ["skipped"]:
            check_result(v, docs, sections, lookup, f"{path}: {key}", set())


def main():
    qscope, docs_path, work = sys.argv[1:4]
    os.makedirs(work, exist_ok=True)
    docs, placeholders, sections = parse_docs(docs_path)
    for s in ("Every result", "Failures", "The report file"):
        if s not in sections:
            fail(f"docs: no '## {s}' table")
    if errors:
        return report()
    lookup = key_matcher(placeholders)

    rc, lines, err = run(qscope, ["-c", "help"])
    table = [row["command"] for row in json.loads(lines[0])["commands"]] if rc == 0 else []
    if not table:
        fail(f"qscope --json -c help gave no command table: {err}")

    report_file = os.path.join(work, "qs_json_r.json")
    if os.path.exists(report_file):
        os.remove(report_file)  # the one checked below is this run's
    seen = set()
    for name in SCENARIOS:
        script = os.path.join(HERE, name)
        rc, lines, err = run(qscope, ["-D", "dir=" + work, "--batch", script])
        if rc != 0:
            fail(f"{name}: exit status {rc}: {err.strip()}")
        for i, line in enumerate(lines, 1):
            o = strict_object(line, f"{name}: output line {i}")
            if o is not None:
                check_result(o, docs, sections, lookup, f"{name}: output line {i}", seen)
    if os.path.exists(report_file):
        check_report(report_file, docs, sections, lookup)
    else:
        fail(f"classify.qs wrote no report at {report_file}")

    for line, want_cmd, want_code in FAILURES:
        rc, lines, err = run(qscope, ["-c", line])
        where = f"-c '{line}'"
        if rc == 0 or not lines:
            fail(f"{where}: expected a failure, got status {rc} and {len(lines)} lines")
            continue
        for i, out in enumerate(lines[:-1], 1):
            o = strict_object(out, f"{where}: line {i}")
            if o is not None:
                check_result(o, docs, sections, lookup, f"{where}: line {i}", set())
        o = strict_object(lines[-1], where)
        if o is not None:
            check_failure(o, sections, where, want_cmd, want_code)

    not_run = [c for c in table if c not in seen]
    if not_run:
        fail("commands of the table no scenario ran (add a line to tests/json/"
             f"{' or '.join(SCENARIOS)}): {', '.join(not_run)}")
    undocumented = [c for c in table if c not in docs]
    if undocumented:
        fail("commands without a section in docs/json.md: " + ", ".join(undocumented))
    stale = [c for c in docs if c not in table]
    if stale:
        fail("docs/json.md has sections for commands that do not exist: " + ", ".join(stale))
    return report(len(table), len(seen))


def report(n_table=0, n_seen=0):
    for e in errors:
        print(e)
    if errors:
        print(f"check_json: {len(errors)} problems")
        return 1
    print(f"check_json: {n_seen} of {n_table} commands run with --json, every key documented")
    return 0


if __name__ == "__main__":
    sys.exit(main())
