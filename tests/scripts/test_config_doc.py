#!/usr/bin/env python3
"""docs/config.md, kaon.conf.example and the parser name the same keys.

Every [section] key of kaon.conf.example (set or commented out) must have a
row in docs/config.md's table for that section and an entry in
src/conf/config.c's key table, and the other way round; a key the example
sets must show the same value in the page's default column.

    test_config_doc.py SOURCE_DIR
"""
import re
import sys


def example_keys(path):
    """{(section, key): value or None (commented out)}"""
    keys, section = {}, None
    for line in open(path, encoding="utf-8"):
        line = line.strip()
        m = re.fullmatch(r"\[([a-z0-9_]+)\]", line)
        if m:
            section = m.group(1)
            continue
        m = re.fullmatch(r"([;#]?)\s*([a-z][a-z0-9_]*)\s*=\s*(.*)", line)
        if m and section:
            commented, key, value = m.groups()
            k = (section, key)
            if not commented:
                keys[k] = value.strip()
            else:
                keys.setdefault(k, None)
    return keys


def doc_keys(path):
    """{(section, key): default cell} from '## `[section]`' tables."""
    keys, section = {}, None
    for line in open(path, encoding="utf-8"):
        m = re.match(r"##\s+`\[([a-z0-9_]+)\]`", line)
        if m:
            section = m.group(1)
            continue
        if line.startswith("## "):
            section = None
            continue
        m = re.match(r"\|\s*`([a-z][a-z0-9_]*)`\s*\|([^|]*)\|", line)
        if m and section:
            keys[(section, m.group(1))] = m.group(2).strip().strip("`")
    return keys


def parser_keys(path):
    src = open(path, encoding="utf-8").read()
    return set(re.findall(r'\{\s*"([a-z0-9_]+)",\s*"([a-z0-9_]+)",\s*K_', src))


def main():
    root = sys.argv[1]
    ex = example_keys(f"{root}/kaon.conf.example")
    doc = doc_keys(f"{root}/docs/config.md")
    parser = parser_keys(f"{root}/src/conf/config.c")
    errors = []
    if not ex or not doc or not parser:
        errors.append(f"found no keys (example {len(ex)}, doc {len(doc)}, parser {len(parser)})")
    for s, k in sorted(set(ex) - set(doc)):
        errors.append(f"[{s}] {k}: in kaon.conf.example, not in docs/config.md")
    for s, k in sorted(set(doc) - set(ex)):
        errors.append(f"[{s}] {k}: in docs/config.md, not in kaon.conf.example")
    for s, k in sorted(parser - set(ex)):
        errors.append(f"[{s}] {k}: the parser knows it, kaon.conf.example does not")
    for s, k in sorted(set(ex) - parser):
        errors.append(f"[{s}] {k}: in kaon.conf.example, unknown to the parser")
    for k, value in sorted(ex.items()):
        if value is not None and k in doc and doc[k] != value:
            errors.append(f"[{k[0]}] {k[1]}: default '{doc[k]}' in docs/config.md, "
                          f"'{value}' in kaon.conf.example")
    for e in errors:
        print("FAIL:", e)
    if not errors:
        print(f"PASS: {len(ex)} keys in kaon.conf.example, docs/config.md and the parser")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
