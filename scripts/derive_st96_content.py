#!/usr/bin/env python3
"""Derive the table of ST.96 element-only content models from the WIPO ST.96 XML schemas.

Usage: ``scripts/derive_st96_content.py XSD_DIR [--out registry/st96_content.py]``

XSD_DIR holds the monolithic ST.96 namespace schemas (``Common_V6_0.xsd``, ``Patent_V6_0.xsd``,
``Trademark_V6_0.xsd``, ``Design_V6_0.xsd``, ``GeographicalIndication_V6_0.xsd``,
``Copyright_V6_0.xsd``) as WIPO publishes them (Annex III of ST.96). Only the derived table of
element names is written; no schema text is copied.

The rule: an element name (namespace URI, local name) is *element-only* when every declaration
of that name in the schemas (global or local) has a complex type that

- is not mixed (``mixed="true"`` on the complexType or its complexContent, nor derived from a
  mixed base type),
- has no simple content (``xsd:simpleContent``),
- has a content model with at least one element particle (sequence / choice / all / element).

Everything else (mixed, simple, empty, unknown or undeclared) is not in the table, so the
canonicalizer keeps its whitespace.
"""

from __future__ import annotations

import argparse
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

XSD = "{http://www.w3.org/2001/XMLSchema}"
#: Namespaces whose element-only names are tabulated (ST.96 and the OASIS tables ST.96 uses).
KEPT = ("http://www.wipo.int/standards/XMLSchema/ST96/", "http://www.oasis-open.org/tables/exchange/")


def _resolve(qname: str, scope: dict[str, str], default: str) -> tuple[str, str]:
    prefix, _, local = qname.rpartition(":")
    return (scope.get(prefix, default) if prefix else default, local)


class _Schemas:
    def __init__(self) -> None:
        self.types: dict[tuple[str, str], tuple[ET.Element, dict[str, str], str]] = {}
        self.decls: list[tuple[tuple[str, str], ET.Element, dict[str, str], str]] = []

    def load(self, path: Path) -> None:
        scope: dict[str, str] = {}
        for _event, item in ET.iterparse(path, events=("start-ns",)):
            prefix, uri = item  # type: ignore[misc]
            scope[prefix] = uri
        root = ET.parse(path).getroot()
        tns = root.get("targetNamespace", "")
        for ct in root.findall(f"{XSD}complexType"):
            self.types[(tns, ct.get("name", ""))] = (ct, scope, tns)
        for el in root.iter(f"{XSD}element"):
            if el.get("name"):
                self.decls.append(((tns, el.get("name", "")), el, scope, tns))

    def _mixed(self, ct: ET.Element, scope: dict[str, str], depth: int = 0) -> bool:
        if ct.get("mixed") == "true":
            return True
        cc = ct.find(f"{XSD}complexContent")
        if cc is None:
            return False
        if cc.get("mixed") == "true":
            return True
        for der in cc:
            base = der.get("base")
            if base and depth < 50:
                found = self.types.get(_resolve(base, scope, ""))
                if found is not None and self._mixed(found[0], found[1], depth + 1):
                    return True
        return False

    def _has_elements(self, ct: ET.Element, scope: dict[str, str], depth: int = 0) -> bool:
        if any(True for _ in ct.iter(f"{XSD}element")) or any(True for _ in ct.iter(f"{XSD}any")):
            return True
        for der in ct.iter():
            if der.tag in (f"{XSD}extension", f"{XSD}restriction") and der.get("base") and depth < 50:
                found = self.types.get(_resolve(der.get("base", ""), scope, ""))
                if found is not None and self._has_elements(found[0], found[1], depth + 1):
                    return True
        return False

    def element_only(self, el: ET.Element, scope: dict[str, str]) -> bool:
        ct = el.find(f"{XSD}complexType")
        if ct is None:
            type_name = el.get("type")
            if not type_name:
                return False
            found = self.types.get(_resolve(type_name, scope, ""))
            if found is None:
                return False  # a simple type (or one not in these schemas)
            ct, scope = found[0], found[1]
        if ct.find(f"{XSD}simpleContent") is not None:
            return False
        return not self._mixed(ct, scope) and self._has_elements(ct, scope)


def derive(folder: Path) -> tuple[dict[str, set[str]], dict[str, set[str]]]:
    """(element-only names, other names) per namespace URI."""
    schemas = _Schemas()
    for path in sorted(folder.glob("*.xsd")):
        schemas.load(path)
    verdict: dict[tuple[str, str], bool] = {}
    for key, el, scope, _tns in schemas.decls:
        verdict[key] = verdict.get(key, True) and schemas.element_only(el, scope)
    only: dict[str, set[str]] = {}
    other: dict[str, set[str]] = {}
    for (uri, local), ok in verdict.items():
        if not uri.startswith(KEPT):
            continue  # MathML and others: whitespace rules of their own, so always kept
        (only if ok else other).setdefault(uri, set()).add(local)
    return only, other


def render(only: dict[str, set[str]], source: str) -> str:
    """The Python module holding the table."""
    lines = [
        "# ruff: noqa: SIM905",
        '"""ST.96 element names whose content model is element-only (generated; do not edit).',
        "",
        "Derived by scripts/derive_st96_content.py from",
        f"{source}.",
        "Rule: every declaration of the name has a complex, non-mixed type without simple content and with",
        "at least one element particle. Whitespace-only text directly inside these elements is indentation.",
        '"""',
        "",
        "from __future__ import annotations",
        "",
        "from typing import Final",
        "",
        "#: namespace URI -> local names with element-only content.",
        "ELEMENT_ONLY: Final[dict[str, frozenset[str]]] = {",
    ]
    for uri in sorted(only):
        lines.append(f'    "{uri}": frozenset(')
        lines.append("        (")
        names = sorted(only[uri])
        chunk: list[str] = []
        for name in names:
            if chunk and sum(len(n) + 1 for n in chunk) + len(name) > 95:
                lines.append(f'            "{" ".join(chunk)} "')
                chunk = []
            chunk.append(name)
        if chunk:
            lines.append(f'            "{" ".join(chunk)}"')
        lines.append("        ).split()")
        lines.append("    ),")
    lines.append("}")
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", type=Path)
    parser.add_argument("--out", type=Path)
    parser.add_argument(
        "--source",
        default="the WIPO ST.96 V6_0 schemas (ST.96 Annex III); the copy read is\n"
        "github.com/ShawnXiha/PatentStandardization, folder data/ST96XMLSchema_V6_0_Flattened",
    )
    parser.add_argument("--show-other", action="store_true", help="list the names kept as text-bearing")
    args = parser.parse_args()
    only, other = derive(args.folder)
    text = render(only, args.source)
    if args.out:
        args.out.write_text(text, encoding="utf-8")
    else:
        sys.stdout.write(text)
    for uri in sorted(only):
        print(f"{uri}: {len(only[uri])} element-only, {len(other.get(uri, ()))} other", file=sys.stderr)
    if args.show_other:
        for uri in sorted(other):
            print(uri, " ".join(sorted(other[uri])), file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
