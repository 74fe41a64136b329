#!/usr/bin/env python3
"""Checks a qscope HTML report (report PATH.html) or Chromium's dump of its DOM.

usage: check_html.py FILE [--layers N] [--text S ..] [--missing SECTION:S ..] [--dom]

- well-formed: every element closed in order (void elements aside); every inline <svg> is
  well-formed XML as written (not with --dom: Chromium serialises SVG as HTML);
- self-contained: no script, no element or attribute that loads anything (src, href,
  on* handlers, url(...) and @import in CSS), no http:// or https:// anywhere;
- the sections of docs/report.md, each present;
- --layers N: the per-layer error figure (svg#fig-error) has N rows (g.layer), each with
  one local and one accumulated bar;
- --text S: S appears in the page's text (a name from the model shown as written, which
  also proves it was escaped: had it been markup, it would not be text);
- --missing SECTION:S: the section has a one-line "missing" paragraph containing S.
Exits 1 with the reasons on failure.
"""
import re
import sys
import xml.etree.ElementTree as ET
from html.parser import HTMLParser

VOID = {"meta", "br", "hr", "img", "input", "link", "area", "base", "col", "embed",
        "source", "track", "wbr", "param"}
FORBIDDEN_TAGS = {"script", "link", "img", "iframe", "object", "embed", "audio", "video",
                  "source", "base", "form", "input", "image", "use", "foreignobject"}
FORBIDDEN_ATTRS = {"src", "href", "xlink:href", "action", "srcset", "poster", "data"}
SECTIONS = ["summary", "model", "plan", "compare", "pick", "error", "sensitivity",
            "activations", "weights"]


class Page(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.stack, self.errors, self.text = [], [], []
        self.section = None
        self.sections = {}          # id -> list of texts of its p.missing
        self.in_missing = False
        self.fig_error = None       # stack depth of svg#fig-error while inside it
        self.layers, self.bars = 0, {"local": 0, "accum": 0}
        self.in_style = False

    def check_attrs(self, tag, attrs):
        if tag in FORBIDDEN_TAGS:
            self.errors.append("forbidden element <%s>" % tag)
        for k, v in attrs:
            if k in FORBIDDEN_ATTRS or k.startswith("on"):
                self.errors.append("forbidden attribute %s on <%s>" % (k, tag))
            if v and re.search(r"url\s*\(|@import", v, re.I):
                self.errors.append("external reference in %s=%r" % (k, v))

    def handle_starttag(self, tag, attrs):
        self.check_attrs(tag, attrs)
        self.open(tag, attrs)
        if tag not in VOID:
            self.stack.append(tag)

    def handle_startendtag(self, tag, attrs):
        self.check_attrs(tag, attrs)
        self.open(tag, attrs)

    def open(self, tag, attrs):
        a = dict(attrs)
        classes = (a.get("class") or "").split()
        if tag == "section":
            self.section = a.get("id")
            self.sections.setdefault(self.section, [])
        if tag == "p" and "missing" in classes:
            self.in_missing = True
            self.sections.setdefault(self.section, []).append("")
        if tag == "style":
            self.in_style = True
        if tag == "svg" and a.get("id") == "fig-error":
            self.fig_error = len(self.stack)
        if self.fig_error is not None:
            if tag == "g" and "layer" in classes:
                self.layers += 1
            if tag == "rect" and "bar" in classes:
                for k in self.bars:
                    self.bars[k] += k in classes

    def handle_endtag(self, tag):
        if tag in VOID:
            return
        if not self.stack or self.stack[-1] != tag:
            self.errors.append("</%s> closes <%s>" % (tag, self.stack[-1] if self.stack else "nothing"))
            return
        self.stack.pop()
        if tag == "p":
            self.in_missing = False
        if tag == "style":
            self.in_style = False
        if tag == "svg" and self.fig_error == len(self.stack):
            self.fig_error = None

    def handle_data(self, data):
        self.text.append(data)
        if self.in_missing:
            self.sections[self.section][-1] += data
        if self.in_style and re.search(r"url\s*\(|@import", data, re.I):
            self.errors.append("external reference in the style sheet")


def main(argv):
    path, layers, texts, missing, dom = argv[1], None, [], [], False
    i = 2
    while i < len(argv):
        if argv[i] == "--layers":
            layers = int(argv[i + 1]); i += 2
        elif argv[i] == "--text":
            texts.append(argv[i + 1]); i += 2
        elif argv[i] == "--missing":
            missing.append(argv[i + 1].split(":", 1)); i += 2
        elif argv[i] == "--dom":
            dom = True; i += 1
        else:
            sys.exit("check_html: unknown argument " + argv[i])
    raw = open(path, encoding="utf-8").read()   # fails on invalid UTF-8
    p = Page()
    p.feed(raw)
    p.close()
    errors = list(p.errors)
    if p.stack:
        errors.append("left open: " + " ".join("<%s>" % t for t in p.stack))
    for scheme in ("http://", "https://"):
        if scheme in raw:
            errors.append("the page names " + scheme)
    if not dom:
        if not raw.startswith("<!DOCTYPE html>"):
            errors.append("no <!DOCTYPE html> first")
        svgs = re.findall(r"<svg\b.*?</svg>", raw, re.S)
        if not svgs:
            errors.append("no inline <svg>")
        for k, s in enumerate(svgs):
            try:
                ET.fromstring(s)
            except ET.ParseError as e:
                errors.append("svg %d is not well-formed XML: %s" % (k, e))
    for s in SECTIONS:
        if s not in p.sections:
            errors.append("no section " + s)
    if layers is not None:
        if p.layers != layers:
            errors.append("fig-error has %d layer rows, expected %d" % (p.layers, layers))
        for k, n in p.bars.items():
            if n != layers:
                errors.append("fig-error has %d %s bars, expected %d" % (n, k, layers))
    text = "".join(p.text)
    for t in texts:
        if t not in text:
            errors.append("text not shown: %r" % t)
    for sec, s in missing:
        if not any(s in m for m in p.sections.get(sec, [])):
            errors.append("section %s has no missing line with %r (has %r)"
                          % (sec, s, p.sections.get(sec)))
    if errors:
        print("check_html: %s:" % path)
        for e in errors:
            print("  " + e)
        return 1
    print("check_html: %s: ok (%d layer rows)" % (path, p.layers))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
