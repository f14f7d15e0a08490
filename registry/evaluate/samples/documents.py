"""The sample documents' content and bytes: ST.96 patent and trademark XML, ST.97-style JSON, PDF.

The XML is produced from string templates (no XML library) so that ~100,000 files can be generated
in a few seconds.
"""

from __future__ import annotations

import json.encoder
import random
import unicodedata
from datetime import date
from typing import NamedTuple

from registry.evaluate.samples.vocab import (
    ABSTRACT_BODY,
    ABSTRACT_CLOSE,
    ABSTRACT_OPEN,
    APPLICANTS,
    CITIES,
    FAMILY,
    GIVEN,
    IPC,
    MARK_FEATURE,
    MARK_SYLLABLES,
    NICE,
    PATENT_KIND_CODES,
    PRIO_OFFICES,
    TITLE_ACTION,
    TITLE_CONTEXT,
    TITLE_HEAD,
    TITLE_OBJECT,
    TM_STATUS,
    application_number,
)

NS_COMMON = "http://www.wipo.int/standards/XMLSchema/ST96/Common"
NS_PATENT = "http://www.wipo.int/standards/XMLSchema/ST96/Patent"
NS_TRADEMARK = "http://www.wipo.int/standards/XMLSchema/ST96/Trademark"

# JSON string literal encoder (C-accelerated), same escaping as ensure_ascii=False.
_json_str = json.encoder.encode_basestring


# --------------------------------------------------------------------------
# Record content
# --------------------------------------------------------------------------


class Patent(NamedTuple):
    """The bibliographic content of one patent publication, rendered by each kind's writer."""

    office: str
    number: str
    kind_code: str
    pub_date: str
    app_number: str
    filing_date: str
    priority_office: str
    priority_number: str
    priority_date: str
    title: str
    applicants: tuple[tuple[str, str], ...]
    inventors: tuple[tuple[str, str], ...]
    ipc: tuple[str, ...]
    abstract: str


def make_patent(rng: random.Random, office: str, number: str, gazette: date, pub_date: str) -> Patent:
    """Draw the bibliographic content of one patent publication.

    For speed this uses cheap ``getrandbits(32) % n`` draws (bias < 1e-6)
    instead of ``Random.choice``/``sample``, which cost several times more.
    """
    g = rng.getrandbits
    k = g(32) % (2 if office == "WO" else 4)
    kind_code = PATENT_KIND_CODES[k]  # WO: A1/A2 only
    # A publications ~18 months after priority, B publications a few years later.
    lag = 500 + g(32) % 120 if k < 2 else 900 + g(32) % 1300
    prio_ord = gazette.toordinal() - lag
    prio = date.fromordinal(prio_ord)
    filing = date.fromordinal(prio_ord + g(32) % 366)
    x = g(32) % (len(PRIO_OFFICES) + 1)
    prio_office = PRIO_OFFICES[x] if x < len(PRIO_OFFICES) else office
    head = TITLE_HEAD[g(32) % len(TITLE_HEAD)]
    obj = TITLE_OBJECT[g(32) % len(TITLE_OBJECT)]
    title = f"{head} {TITLE_ACTION[g(32) % len(TITLE_ACTION)]} {obj}{TITLE_CONTEXT[g(32) % len(TITLE_CONTEXT)]}"
    article = "an" if head[0] in "AEIOU" else "a"
    opening = ABSTRACT_OPEN[g(32) % len(ABSTRACT_OPEN)].format(
        t=f"{article} {title[0].lower()}{title[1:]}",
        A=article.capitalize(),
        h=head.lower(),
        o=obj,
    )
    n = len(ABSTRACT_BODY)
    i = g(32) % n
    j = g(32) % (n - 1)
    j += j >= i  # second, different sentence
    abstract = f"{opening} {ABSTRACT_BODY[i]} {ABSTRACT_BODY[j]} {ABSTRACT_CLOSE[g(32) % len(ABSTRACT_CLOSE)]}"
    n = len(APPLICANTS)
    i = g(32) % n
    if g(32) % 5 == 0:  # one publication in five has a co-applicant
        j = g(32) % (n - 1)
        applicants: tuple[tuple[str, str], ...] = (APPLICANTS[i], APPLICANTS[j + (j >= i)])
    else:
        applicants = (APPLICANTS[i],)
    cc = applicants[0][1]
    inventors = tuple((f"{GIVEN[g(32) % len(GIVEN)]} {FAMILY[g(32) % len(FAMILY)]}", cc) for _ in range(1 + g(32) % 2))
    ipc: list[str] = []
    for _ in range(1 + g(32) % 3):
        c = IPC[g(32) % len(IPC)]
        if c not in ipc:  # a rare repeat just yields one class fewer
            ipc.append(c)
    return Patent(
        office,
        number,
        kind_code,
        pub_date,
        application_number(office, filing, g(64)),
        filing.isoformat(),
        prio_office,
        f"{prio.year}{1 + g(32) % 999999:06d}",
        prio.isoformat(),
        title,
        applicants,
        inventors,
        tuple(ipc),
        abstract,
    )


def st96_patent_xml(p: Patent) -> bytes:
    """Render an ST.96 patent publication document (~1.5-2 KB)."""
    lang = "en"  # all generated text is English
    applicants = "".join(
        f"""
    <pat:Applicant com:sequenceNumber="{i}"><com:Contact><com:Name><com:EntityName>{name}"""
        f"""</com:EntityName></com:Name><com:CountryCode>{cc}</com:CountryCode></com:Contact></pat:Applicant>"""
        for i, (name, cc) in enumerate(p.applicants, 1)
    )
    inventors = "".join(
        f"""
    <pat:Inventor com:sequenceNumber="{i}"><com:Contact><com:Name><com:PersonName><com:PersonFullName>"""
        f"""{name}</com:PersonFullName></com:PersonName></com:Name></com:Contact></pat:Inventor>"""
        for i, (name, _cc) in enumerate(p.inventors, 1)
    )
    ipc = "".join(
        f"""
   <pat:PatentClassificationText>{c}</pat:PatentClassificationText>"""
        for c in p.ipc
    )
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<pat:PatentPublication xmlns:pat="{NS_PATENT}" xmlns:com="{NS_COMMON}" com:st96Version="V7_0">
 <pat:BibliographicData>
  <pat:PatentPublicationIdentification>
   <com:IPOfficeCode>{p.office}</com:IPOfficeCode>
   <pat:PublicationNumber>{p.number}</pat:PublicationNumber>
   <com:PatentDocumentKindCode>{p.kind_code}</com:PatentDocumentKindCode>
   <com:PublicationDate>{p.pub_date}</com:PublicationDate>
  </pat:PatentPublicationIdentification>
  <pat:ApplicationIdentification>
   <com:ApplicationNumberText>{p.app_number}</com:ApplicationNumberText>
   <pat:FilingDate>{p.filing_date}</pat:FilingDate>
  </pat:ApplicationIdentification>
  <pat:PriorityClaimBag><pat:PriorityClaim com:sequenceNumber="1">
   <com:IPOfficeCode>{p.priority_office}</com:IPOfficeCode>
   <com:ApplicationNumberText>{p.priority_number}</com:ApplicationNumberText>
   <pat:FilingDate>{p.priority_date}</pat:FilingDate>
  </pat:PriorityClaim></pat:PriorityClaimBag>
  <pat:InventionTitle com:languageCode="{lang}">{p.title}</pat:InventionTitle>
  <pat:IPCRClassificationBag>{ipc}
  </pat:IPCRClassificationBag>
  <pat:PartyBag>
   <pat:ApplicantBag>{applicants}
   </pat:ApplicantBag>
   <pat:InventorBag>{inventors}
   </pat:InventorBag>
  </pat:PartyBag>
 </pat:BibliographicData>
 <pat:Abstract com:languageCode="{lang}"><com:P>{p.abstract}</com:P></pat:Abstract>
</pat:PatentPublication>
""".encode()


def st97_json(p: Patent) -> bytes:
    """Render an ST.97-style JSON patent publication record.

    Byte-identical to ``json.dumps(doc, indent=2, ensure_ascii=False) + "\\n"``
    (keys in natural, not sorted, order) but built from a template, which is
    several times faster than the pure-Python indenting encoder.
    """
    q = _json_str
    applicants = ",".join(
        f'\n      {{\n        "EntityName": {q(n)},\n        "CountryCode": {q(cc)}\n      }}' for n, cc in p.applicants
    )
    inventors = ",".join(
        f'\n      {{\n        "PersonFullName": {q(n)},\n        "CountryCode": {q(cc)}\n      }}'
        for n, cc in p.inventors
    )
    ipc = ",".join(f"\n      {q(c)}" for c in p.ipc)
    return f"""{{
  "PatentPublication": {{
    "IPOfficeCode": {q(p.office)},
    "PublicationNumber": {q(p.number)},
    "PatentDocumentKindCode": {q(p.kind_code)},
    "PublicationDate": {q(p.pub_date)},
    "ApplicationNumberText": {q(p.app_number)},
    "FilingDate": {q(p.filing_date)},
    "InventionTitle": {q(p.title)},
    "Applicants": [{applicants}
    ],
    "Inventors": [{inventors}
    ],
    "IPCClassifications": [{ipc}
    ],
    "Abstract": {q(p.abstract)}
  }}
}}
""".encode()


def _ascii(text: str) -> str:
    """Best-effort ASCII transliteration (for the PDF's standard Type1 font)."""
    return unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")


def _pdf_string(text: str) -> str:
    """Escape ``text`` as the body of a PDF literal string."""
    return _ascii(text).replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")


def pdf(p: Patent) -> bytes:
    """Render a minimal one-page PDF 1.4 with correct cross-reference offsets."""
    title = _pdf_string(p.title)
    lines = (
        f"{p.office} {p.number} {p.kind_code}    Publication date {p.pub_date}",
        p.title,
        p.applicants[0][0],
    )
    shown = " T* ".join(f"({_pdf_string(t)}) Tj" for t in lines)
    content = f"BT /F1 11 Tf 14 TL 56 780 Td {shown} ET\n".encode("ascii")
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842]"
        b" /Resources << /Font << /F1 4 0 R >> >> /Contents 5 0 R >>",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>",
        b"<< /Length %d >>\nstream\n%sendstream" % (len(content), content),
        f"<< /Title ({title}) /Subject ({p.office} {p.number} {p.kind_code}) /Producer (registry.samples) >>".encode(
            "ascii"
        ),
    ]
    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for num, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%s\nendobj\n" % (num, body)
    xref_at = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    for off in offsets:
        out += b"%010d 00000 n \n" % off
    out += b"trailer\n<< /Size %d /Root 1 0 R /Info %d 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1,
        len(objects),
        xref_at,
    )
    return bytes(out)


def _mark_text(rng: random.Random) -> str:
    """Draw an invented word mark such as ``NOVALUX``."""
    return "".join(rng.sample(MARK_SYLLABLES, rng.randrange(2, 4)))


def st96_trademark_xml(rng: random.Random, office: str, number: str, gazette: date) -> bytes:
    """Render an ST.96 trademark application document."""
    app_date = date.fromordinal(gazette.toordinal() - rng.randrange(20, 120)).isoformat()
    mark = _mark_text(rng)
    name, cc = rng.choice(APPLICANTS)
    classes = sorted(rng.sample(NICE, rng.randrange(1, 4)))
    goods = "".join(
        f"""
    <tmk:GoodsServices><tmk:ClassNumber>{num:02d}</tmk:ClassNumber>
     <tmk:GoodsServicesDescriptionText com:languageCode="en">{text}</tmk:GoodsServicesDescriptionText>
    </tmk:GoodsServices>"""
        for num, text in classes
    )
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<tmk:TrademarkApplication xmlns:tmk="{NS_TRADEMARK}" xmlns:com="{NS_COMMON}" com:st96Version="V7_0">
 <tmk:TrademarkBag>
  <tmk:Trademark>
   <com:ReceivingOfficeCode>{office}</com:ReceivingOfficeCode>
   <com:ApplicationNumber><com:ApplicationNumberText>{number}</com:ApplicationNumberText></com:ApplicationNumber>
   <com:ApplicationDate>{app_date}</com:ApplicationDate>
   <com:PublicationDate>{gazette.isoformat()}</com:PublicationDate>
   <tmk:MarkCurrentStatusCode>{rng.choice(TM_STATUS)}</tmk:MarkCurrentStatusCode>
   <tmk:MarkCategory>Individual</tmk:MarkCategory>
   <tmk:MarkFeatureCategory>{rng.choice(MARK_FEATURE)}</tmk:MarkFeatureCategory>
   <tmk:MarkRepresentation><tmk:MarkReproduction><tmk:WordMarkSpecification>
    <tmk:MarkVerbalElementText>{mark}</tmk:MarkVerbalElementText>
   </tmk:WordMarkSpecification></tmk:MarkReproduction></tmk:MarkRepresentation>
   <tmk:GoodsServicesBag>{goods}
   </tmk:GoodsServicesBag>
   <tmk:ApplicantBag><tmk:Applicant com:sequenceNumber="1"><com:Contact>
    <com:Name><com:EntityName>{name}</com:EntityName></com:Name>
    <com:CityName>{CITIES.get(cc, "")}</com:CityName><com:CountryCode>{cc}</com:CountryCode>
   </com:Contact></tmk:Applicant></tmk:ApplicantBag>
  </tmk:Trademark>
 </tmk:TrademarkBag>
</tmk:TrademarkApplication>
""".encode()
