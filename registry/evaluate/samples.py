"""Deterministic sample gazette generator (stdlib only).

Produces small, realistic-looking IP office publication files for tests,
demos and benchmarks:

* ``st96-patent``    -- WIPO ST.96 patent publication XML (``pat:PatentPublication``)
* ``st96-trademark`` -- WIPO ST.96 trademark application XML (``tmk:TrademarkApplication``)
* ``st97-json``      -- ST.97-style JSON patent publication record
* ``pdf``            -- a one-page PDF whose record id is carried by the file name

Every file is named after its record id (``EP-1234567-B1.xml``,
``EM-018912345.xml``, ``EP-1234567-B1.pdf`` ...). Output is fully
deterministic: the same arguments always yield byte-identical files.

``count`` is the total number of files of one call; the requested kinds are
assigned round-robin (file ``i`` gets ``kinds[i % len(kinds)]``). Publication
and application numbers are unique within one call, across all kinds.

The XML is produced from string templates (no XML library) so that ~100,000
files can be generated in a few seconds. All vocabulary below is free of XML
special characters (``& < > " '``), so no escaping is necessary.
"""

from __future__ import annotations

import json.encoder
import os
import random
import unicodedata
from collections.abc import Iterator, Sequence
from datetime import date
from pathlib import Path
from typing import NamedTuple

__all__ = [
    "KINDS",
    "NS_COMMON",
    "NS_PATENT",
    "NS_TRADEMARK",
    "SampleFile",
    "generate_gazette",
    "iter_gazette",
]

NS_COMMON = "http://www.wipo.int/standards/XMLSchema/ST96/Common"
NS_PATENT = "http://www.wipo.int/standards/XMLSchema/ST96/Patent"
NS_TRADEMARK = "http://www.wipo.int/standards/XMLSchema/ST96/Trademark"

KINDS: tuple[str, ...] = ("st96-patent", "st96-trademark", "st97-json", "pdf")

# JSON string literal encoder (C-accelerated), same escaping as ensure_ascii=False.
_json_str = json.encoder.encode_basestring


class SampleFile(NamedTuple):
    """One generated sample document (not yet written to disk)."""

    name: str
    """File name, e.g. ``EP-1234567-B1.xml``."""
    record_id: str
    """Record id a reader should extract, e.g. ``EP:1234567:B1``."""
    kind: str
    """One of :data:`KINDS`."""
    data: bytes
    """Exact file content."""


# --------------------------------------------------------------------------
# Vocabulary (fictional; no XML special characters)
# --------------------------------------------------------------------------

_TITLE_HEAD = (
    "Method",
    "System",
    "Apparatus",
    "Device",
    "Composition",
    "Process",
    "Assembly",
    "Circuit arrangement",
    "Computer-implemented method",
    "Kit",
)
_TITLE_ACTION = (
    "for controlling",
    "for producing",
    "for monitoring",
    "for encoding",
    "for cooling",
    "for detecting",
    "for purifying",
    "for authenticating",
    "for storing",
    "for calibrating",
    "for charging",
    "for separating",
)
_TITLE_OBJECT = (
    "a lithium-ion battery cell",
    "recombinant antibodies",
    "video data streams",
    "a wind turbine rotor blade",
    "polymer films",
    "wireless network resources",
    "a surgical stapler",
    "hydrogen gas",
    "semiconductor wafers",
    "digital certificates",
    "an electric vehicle",
    "food packaging",
    "optical fibres",
    "a hearing aid",
    "crop seeds",
    "industrial robots",
)
_TITLE_CONTEXT = (
    "",
    " using machine learning",
    " in a distributed ledger",
    " at low temperature",
    " with reduced power consumption",
    " by means of ultrasound",
    " in a vehicle",
    " and related computer program product",
    " under high pressure",
    " in a cloud environment",
)

_ABSTRACT_OPEN = (
    "The invention relates to {t}.",
    "Disclosed is {t}.",
    "{A} {h} is provided which allows {o} to be handled more efficiently.",
    "The present disclosure describes {t}.",
)
_ABSTRACT_BODY = (
    "A first unit determines an operating parameter and a second unit adjusts it in response.",
    "The arrangement comprises a housing, a sensor and a control module coupled to the sensor.",
    "A reference value is stored in a memory and compared with a measured value at regular intervals.",
    "The process comprises the steps of mixing, heating to between 60 and 90 degrees Celsius and drying.",
    "Data are encrypted with a session key that is derived from a hardware identifier.",
    "The layer thickness is between 5 and 50 micrometres, preferably between 10 and 20 micrometres.",
    "A feedback loop limits the current so that the temperature stays below a threshold.",
    "The compound is administered orally in a dose of 1 to 10 mg per kilogram of body weight.",
    "A plurality of nodes exchange signed messages over a peer-to-peer network.",
    "The blade comprises a load-carrying spar made of carbon fibre reinforced plastic.",
)
_ABSTRACT_CLOSE = (
    "This reduces manufacturing costs.",
    "As a result, service life is considerably increased.",
    "Energy consumption is thereby reduced by up to 30 percent.",
    "The solution is particularly suitable for mass production.",
    "Reliability and safety are improved.",
    "Latency is reduced without loss of accuracy.",
)

# (entity name, ISO 3166 country code)
_APPLICANTS = (
    ("Nordlicht Energietechnik GmbH", "DE"),
    ("Helvetia Precision Instruments AG", "CH"),
    ("Société Lumière Optique SA", "FR"),
    ("Bluewater Robotics Inc.", "US"),
    ("Kirin Advanced Materials Co., Ltd.", "JP"),
    ("Tulip Biosciences B.V.", "NL"),
    ("Aurora Semiconductor Corporation", "US"),
    ("Fjord Marine Systems AS", "NO"),
    ("Castellana Pharma S.L.", "ES"),
    ("Vesuvio Meccanica S.p.A.", "IT"),
    ("Hanbit Electronics Co., Ltd.", "KR"),
    ("Maple Leaf Agritech Ltd.", "CA"),
    ("Danube Medical Devices GmbH", "AT"),
    ("Öresund Wind AB", "SE"),
    ("Thames Valley Photonics Limited", "GB"),
    ("Shenzhou Battery Technology Co., Ltd.", "CN"),
    ("University of Northbridge", "GB"),
    ("Institut Polytechnique de Rivemont", "FR"),
)
_CITIES = {
    "DE": "München",
    "CH": "Zürich",
    "FR": "Lyon",
    "US": "San Jose",
    "JP": "Osaka",
    "NL": "Eindhoven",
    "NO": "Bergen",
    "ES": "Madrid",
    "IT": "Napoli",
    "KR": "Suwon",
    "CA": "Toronto",
    "AT": "Wien",
    "SE": "Malmö",
    "GB": "Cambridge",
    "CN": "Shenzhen",
}
_GIVEN = (
    "Anna", "Lukas", "Marie", "Jonas", "Sofia", "Hiroshi", "Emily", "Mateo",
    "Chloé", "Lars", "Giulia", "Min-jun", "Olivia", "Pierre", "Ingrid", "Wei",
)  # fmt: skip
_FAMILY = (
    "Müller", "Schmidt", "Dubois", "Rossi", "Tanaka", "Smith", "García",
    "Johansson", "Kim", "Novak", "Berg", "Chen", "Williams", "Fischer", "Moreau",
)  # fmt: skip

_IPC = (
    "H04L 9/32", "H04L 9/40", "G06F 21/64", "G06N 3/08", "G06Q 20/38",
    "H01M 10/0525", "H01M 4/131", "B60L 53/16", "F03D 1/06", "F03D 7/02",
    "A61K 31/4709", "A61K 39/395", "C07K 16/28", "A61B 17/072", "A23L 3/3463",
    "C08J 5/18", "B65D 65/46", "H01L 21/67", "G02B 6/02", "H04R 25/00",
    "C01B 3/50", "B01D 53/22", "A01H 6/46", "B25J 9/16", "H04N 19/70",
    "H04W 72/04", "G01N 33/68", "F25B 21/02",
)  # fmt: skip

# Nice classes with a goods/services description.
_NICE = (
    (9, "Computer software; downloadable mobile applications; data processing equipment"),
    (25, "Clothing; footwear; headgear"),
    (30, "Coffee, tea, cocoa and artificial coffee; bread, pastries and confectionery"),
    (32, "Beers; mineral and aerated waters; fruit beverages and fruit juices"),
    (35, "Advertising; business management; office functions"),
    (36, "Financial services; insurance services; real estate affairs"),
    (41, "Education; providing of training; entertainment; sporting and cultural activities"),
    (42, "Scientific and technological services; design and development of computer software"),
    (3, "Cosmetics; perfumery; non-medicated soaps"),
    (12, "Vehicles; apparatus for locomotion by land, air or water"),
    (5, "Pharmaceutical preparations; dietary supplements"),
    (44, "Medical services; hygienic and beauty care"),
)
_MARK_SYLLABLES = (
    "NO", "VA", "LUX", "TER", "ZEN", "KORA", "BLU", "MIRA", "SOL", "VIT",
    "ORA", "FLEX", "NEO", "TRIX", "AQUA", "RIVO", "STEL", "QUIN", "DAL", "ONYX",
)  # fmt: skip
_MARK_FEATURE = ("Word", "Figurative", "Combined")
_TM_STATUS = ("Application filed", "Application published", "Opposition period running")

_PATENT_KIND_CODES = ("A1", "A2", "B1", "B2")  # WO uses only the first two
_PRIO_OFFICES = ("US", "DE", "JP", "FR", "GB", "CN", "KR")


# --------------------------------------------------------------------------
# Numbering
# --------------------------------------------------------------------------


def _patent_number_space(office: str) -> tuple[int, int, int]:
    """Return ``(start, stop, width)`` of the publication-number pool."""
    if office in ("US", "JP", "WO"):
        return 2026_000000, 2027_000000, 10
    return 4_000_000, 5_000_000, 7  # EP and any other office: 7 digits


def _trademark_number_space(office: str) -> tuple[int, int, int]:
    """Return ``(start, stop, width)`` of the trademark application-number pool."""
    if office == "EM":
        return 18_000_000, 19_000_000, 9  # 018xxxxxx
    return 10_000_000, 100_000_000, 8  # never collides with 7/10-digit patent numbers


def _draw_numbers(rng: random.Random, space: tuple[int, int, int], k: int, what: str) -> list[str]:
    """Draw ``k`` distinct, ascending, zero-padded numbers from ``space``."""
    start, stop, width = space
    if k > stop - start:
        raise ValueError(f"count too large: at most {stop - start} {what} numbers available")
    return [str(n).zfill(width) for n in sorted(rng.sample(range(start, stop), k))]


def _application_number(office: str, filing: date, r: int) -> str:
    """Return a plausible application number for ``office`` (``r``: 64 random bits)."""
    if office == "EP":
        r, a = divmod(r, 200000)
        return f"{filing.year % 100:02d}{700000 + a:06d}.{r % 10}"
    if office == "US":
        r, a = divmod(r, 2)
        r, b = divmod(r, 900)
        return f"{17 + a}/{100 + b},{r % 1000:03d}"
    if office == "JP":
        return f"{filing.year}-{1 + r % 199999:06d}"
    if office == "WO":
        r, a = divmod(r, len(_PRIO_OFFICES))
        return f"PCT/{_PRIO_OFFICES[a]}{filing.year}/{1 + r % 99999:06d}"
    return f"{filing.year}{1 + r % 99999:06d}"


# --------------------------------------------------------------------------
# Record content
# --------------------------------------------------------------------------


class _Patent(NamedTuple):
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


def _make_patent(rng: random.Random, office: str, number: str, gazette: date, pub_date: str) -> _Patent:
    """Draw the bibliographic content of one patent publication.

    For speed this uses cheap ``getrandbits(32) % n`` draws (bias < 1e-6)
    instead of ``Random.choice``/``sample``, which cost several times more.
    """
    g = rng.getrandbits
    k = g(32) % (2 if office == "WO" else 4)
    kind_code = _PATENT_KIND_CODES[k]  # WO: A1/A2 only
    # A publications ~18 months after priority, B publications a few years later.
    lag = 500 + g(32) % 120 if k < 2 else 900 + g(32) % 1300
    prio_ord = gazette.toordinal() - lag
    prio = date.fromordinal(prio_ord)
    filing = date.fromordinal(prio_ord + g(32) % 366)
    x = g(32) % (len(_PRIO_OFFICES) + 1)
    prio_office = _PRIO_OFFICES[x] if x < len(_PRIO_OFFICES) else office
    head = _TITLE_HEAD[g(32) % len(_TITLE_HEAD)]
    obj = _TITLE_OBJECT[g(32) % len(_TITLE_OBJECT)]
    title = f"{head} {_TITLE_ACTION[g(32) % len(_TITLE_ACTION)]} {obj}{_TITLE_CONTEXT[g(32) % len(_TITLE_CONTEXT)]}"
    article = "an" if head[0] in "AEIOU" else "a"
    opening = _ABSTRACT_OPEN[g(32) % len(_ABSTRACT_OPEN)].format(
        t=f"{article} {title[0].lower()}{title[1:]}",
        A=article.capitalize(),
        h=head.lower(),
        o=obj,
    )
    n = len(_ABSTRACT_BODY)
    i = g(32) % n
    j = g(32) % (n - 1)
    j += j >= i  # second, different sentence
    abstract = f"{opening} {_ABSTRACT_BODY[i]} {_ABSTRACT_BODY[j]} {_ABSTRACT_CLOSE[g(32) % len(_ABSTRACT_CLOSE)]}"
    n = len(_APPLICANTS)
    i = g(32) % n
    if g(32) % 5 == 0:  # one publication in five has a co-applicant
        j = g(32) % (n - 1)
        applicants: tuple[tuple[str, str], ...] = (_APPLICANTS[i], _APPLICANTS[j + (j >= i)])
    else:
        applicants = (_APPLICANTS[i],)
    cc = applicants[0][1]
    inventors = tuple(
        (f"{_GIVEN[g(32) % len(_GIVEN)]} {_FAMILY[g(32) % len(_FAMILY)]}", cc) for _ in range(1 + g(32) % 2)
    )
    ipc: list[str] = []
    for _ in range(1 + g(32) % 3):
        c = _IPC[g(32) % len(_IPC)]
        if c not in ipc:  # a rare repeat just yields one class fewer
            ipc.append(c)
    return _Patent(
        office,
        number,
        kind_code,
        pub_date,
        _application_number(office, filing, g(64)),
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


def _st96_patent_xml(p: _Patent) -> bytes:
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


def _st97_json(p: _Patent) -> bytes:
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


def _pdf(p: _Patent) -> bytes:
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
    return "".join(rng.sample(_MARK_SYLLABLES, rng.randrange(2, 4)))


def _st96_trademark_xml(rng: random.Random, office: str, number: str, gazette: date) -> bytes:
    """Render an ST.96 trademark application document."""
    app_date = date.fromordinal(gazette.toordinal() - rng.randrange(20, 120)).isoformat()
    mark = _mark_text(rng)
    name, cc = rng.choice(_APPLICANTS)
    classes = sorted(rng.sample(_NICE, rng.randrange(1, 4)))
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
   <tmk:MarkCurrentStatusCode>{rng.choice(_TM_STATUS)}</tmk:MarkCurrentStatusCode>
   <tmk:MarkCategory>Individual</tmk:MarkCategory>
   <tmk:MarkFeatureCategory>{rng.choice(_MARK_FEATURE)}</tmk:MarkFeatureCategory>
   <tmk:MarkRepresentation><tmk:MarkReproduction><tmk:WordMarkSpecification>
    <tmk:MarkVerbalElementText>{mark}</tmk:MarkVerbalElementText>
   </tmk:WordMarkSpecification></tmk:MarkReproduction></tmk:MarkRepresentation>
   <tmk:GoodsServicesBag>{goods}
   </tmk:GoodsServicesBag>
   <tmk:ApplicantBag><tmk:Applicant com:sequenceNumber="1"><com:Contact>
    <com:Name><com:EntityName>{name}</com:EntityName></com:Name>
    <com:CityName>{_CITIES.get(cc, "")}</com:CityName><com:CountryCode>{cc}</com:CountryCode>
   </com:Contact></tmk:Applicant></tmk:ApplicantBag>
  </tmk:Trademark>
 </tmk:TrademarkBag>
</tmk:TrademarkApplication>
""".encode()


# --------------------------------------------------------------------------
# Public API
# --------------------------------------------------------------------------


def _check_args(office: str, count: int, kinds: Sequence[str]) -> tuple[str, ...]:
    """Validate arguments; return the kinds as a tuple."""
    if not (len(office) == 2 and office.isascii() and office.isalpha() and office.isupper()):
        raise ValueError(f"office must be a two-letter upper-case ST.3 code, got {office!r}")
    if count < 0:
        raise ValueError("count must be >= 0")
    if isinstance(kinds, str):  # a lone string is a Sequence[str] too; be forgiving
        kinds = (kinds,)
    kinds_t = tuple(kinds)
    if not kinds_t:
        raise ValueError("at least one kind is required")
    unknown = [k for k in kinds_t if k not in KINDS]
    if unknown:
        raise ValueError(f"unknown kind(s) {unknown}; choose from {list(KINDS)}")
    if len(set(kinds_t)) != len(kinds_t):
        raise ValueError(f"duplicate kinds in {list(kinds_t)}")
    return kinds_t


def iter_gazette(
    office: str = "EP",
    count: int = 10,
    seed: int = 0,
    kinds: Sequence[str] = ("st96-patent",),
) -> Iterator[SampleFile]:
    """Yield ``count`` deterministic sample documents without touching the disk.

    Arguments are validated eagerly (before the first item is requested).
    File ``i`` is of kind ``kinds[i % len(kinds)]``. All documents share one
    gazette publication date (a Wednesday in 2026 chosen from ``seed``).
    Publication / application numbers are unique within the call and
    ascending within each number pool.

    Raises:
        ValueError: unknown/duplicate kinds, bad office code, negative count,
            or a count larger than the office's number pool.
    """
    kinds_t = _check_args(office, count, kinds)
    rng = random.Random(seed)
    gazette = date.fromordinal(date(2026, 1, 7).toordinal() + 7 * rng.randrange(52))
    plan = [kinds_t[i % len(kinds_t)] for i in range(count)]
    n_tm = plan.count("st96-trademark")
    patent_numbers = _draw_numbers(rng, _patent_number_space(office), count - n_tm, "patent publication")
    tm_numbers = _draw_numbers(rng, _trademark_number_space(office), n_tm, "trademark application")
    return _iter(rng, office, gazette, plan, patent_numbers, tm_numbers)


def _iter(
    rng: random.Random,
    office: str,
    gazette: date,
    plan: list[str],
    patent_numbers: list[str],
    tm_numbers: list[str],
) -> Iterator[SampleFile]:
    """Generator body of :func:`iter_gazette`."""
    pn = iter(patent_numbers)
    tn = iter(tm_numbers)
    pub_date = gazette.isoformat()
    for kind in plan:
        if kind == "st96-trademark":
            number = next(tn)
            data = _st96_trademark_xml(rng, office, number, gazette)
            # the record id is the canonical form (registry.core.records.normalize_number: no leading zeros)
            yield SampleFile(f"{office}-{number}.xml", f"{office}:{number.lstrip('0') or '0'}", kind, data)
            continue
        p = _make_patent(rng, office, next(pn), gazette, pub_date)
        stem = f"{office}-{p.number}-{p.kind_code}"
        rid = f"{office}:{p.number}:{p.kind_code}"
        if kind == "st96-patent":
            yield SampleFile(stem + ".xml", rid, kind, _st96_patent_xml(p))
        elif kind == "st97-json":
            yield SampleFile(stem + ".json", rid, kind, _st97_json(p))
        else:  # pdf
            yield SampleFile(stem + ".pdf", rid, kind, _pdf(p))


_OPEN_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, "O_BINARY", 0)


def generate_gazette(
    out_dir: Path,
    office: str = "EP",
    count: int = 10,
    seed: int = 0,
    kinds: Sequence[str] = ("st96-patent",),
) -> list[Path]:
    """Write ``count`` deterministic sample publication files into ``out_dir``.

    ``out_dir`` is created if needed; existing files with the same names are
    overwritten. Same arguments produce byte-identical files. See
    :func:`iter_gazette` for how kinds and numbers are assigned.

    Returns:
        The paths written, in generation order.
    """
    files = iter_gazette(office=office, count=count, seed=seed, kinds=kinds)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths: list[Path] = []
    append = paths.append
    # Open files relative to a directory descriptor where supported (saves a
    # path walk per file); fall back to joined paths elsewhere (Windows).
    use_dir_fd = os.open in os.supports_dir_fd
    dir_fd = os.open(out_dir, os.O_RDONLY) if use_dir_fd else None
    try:
        for f in files:
            if dir_fd is not None:
                fd = os.open(f.name, _OPEN_FLAGS, 0o644, dir_fd=dir_fd)
            else:
                fd = os.open(out_dir / f.name, _OPEN_FLAGS, 0o644)
            try:
                view = memoryview(f.data)
                while view:
                    view = view[os.write(fd, view) :]
            finally:
                os.close(fd)
            append(out_dir / f.name)
    finally:
        if dir_fd is not None:
            os.close(dir_fd)
    return paths
