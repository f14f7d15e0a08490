"""Vocabulary and number pools of the sample gazette (fictional; no XML special characters).

Every table is free of ``& < > " '`` so the documents need no escaping. The number pools keep
publication and application numbers of one call unique and shaped like each office's.
"""

from __future__ import annotations

import random
from datetime import date

# --------------------------------------------------------------------------
# Vocabulary (fictional; no XML special characters)
# --------------------------------------------------------------------------

TITLE_HEAD = (
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
TITLE_ACTION = (
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
TITLE_OBJECT = (
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
TITLE_CONTEXT = (
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

ABSTRACT_OPEN = (
    "The invention relates to {t}.",
    "Disclosed is {t}.",
    "{A} {h} is provided which allows {o} to be handled more efficiently.",
    "The present disclosure describes {t}.",
)
ABSTRACT_BODY = (
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
ABSTRACT_CLOSE = (
    "This reduces manufacturing costs.",
    "As a result, service life is considerably increased.",
    "Energy consumption is thereby reduced by up to 30 percent.",
    "The solution is particularly suitable for mass production.",
    "Reliability and safety are improved.",
    "Latency is reduced without loss of accuracy.",
)

# (entity name, ISO 3166 country code)
APPLICANTS = (
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
CITIES = {
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
GIVEN = (
    "Anna", "Lukas", "Marie", "Jonas", "Sofia", "Hiroshi", "Emily", "Mateo",
    "Chloé", "Lars", "Giulia", "Min-jun", "Olivia", "Pierre", "Ingrid", "Wei",
)  # fmt: skip
FAMILY = (
    "Müller", "Schmidt", "Dubois", "Rossi", "Tanaka", "Smith", "García",
    "Johansson", "Kim", "Novak", "Berg", "Chen", "Williams", "Fischer", "Moreau",
)  # fmt: skip

IPC = (
    "H04L 9/32", "H04L 9/40", "G06F 21/64", "G06N 3/08", "G06Q 20/38",
    "H01M 10/0525", "H01M 4/131", "B60L 53/16", "F03D 1/06", "F03D 7/02",
    "A61K 31/4709", "A61K 39/395", "C07K 16/28", "A61B 17/072", "A23L 3/3463",
    "C08J 5/18", "B65D 65/46", "H01L 21/67", "G02B 6/02", "H04R 25/00",
    "C01B 3/50", "B01D 53/22", "A01H 6/46", "B25J 9/16", "H04N 19/70",
    "H04W 72/04", "G01N 33/68", "F25B 21/02",
)  # fmt: skip

# Nice classes with a goods/services description.
NICE = (
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
MARK_SYLLABLES = (
    "NO", "VA", "LUX", "TER", "ZEN", "KORA", "BLU", "MIRA", "SOL", "VIT",
    "ORA", "FLEX", "NEO", "TRIX", "AQUA", "RIVO", "STEL", "QUIN", "DAL", "ONYX",
)  # fmt: skip
MARK_FEATURE = ("Word", "Figurative", "Combined")
TM_STATUS = ("Application filed", "Application published", "Opposition period running")

PATENT_KIND_CODES = ("A1", "A2", "B1", "B2")  # WO uses only the first two
PRIO_OFFICES = ("US", "DE", "JP", "FR", "GB", "CN", "KR")


# --------------------------------------------------------------------------
# Numbering
# --------------------------------------------------------------------------


def patent_number_space(office: str) -> tuple[int, int, int]:
    """Return ``(start, stop, width)`` of the publication-number pool."""
    if office in ("US", "JP", "WO"):
        return 2026_000000, 2027_000000, 10
    if office == "CN":
        return 117_000_000, 127_000_000, 9  # CNIPA's 9-digit publication numbers (CN117xxxxxx A)
    return 4_000_000, 5_000_000, 7  # EP and any other office: 7 digits


def trademark_number_space(office: str) -> tuple[int, int, int]:
    """Return ``(start, stop, width)`` of the trademark application-number pool."""
    if office == "EM":
        return 18_000_000, 19_000_000, 9  # 018xxxxxx
    return 10_000_000, 100_000_000, 8  # never collides with 7/10-digit patent numbers


#: Gazettes of seeds that differ modulo LANES never share a number: seed s draws only numbers that end
#: in the digit ``s % LANES`` (so a second sample run is new records, not new versions of the first).
LANES = 10


def draw_numbers(rng: random.Random, space: tuple[int, int, int], k: int, what: str, lane: int = 0) -> list[str]:
    """Draw ``k`` distinct, ascending, zero-padded numbers from ``space`` that end in the digit ``lane``."""
    start, stop, width = space
    first = start + (lane - start) % LANES
    available = len(range(first, stop, LANES))
    if k > available:
        raise ValueError(f"count too large: at most {available} {what} numbers available per seed")
    return [str(n).zfill(width) for n in sorted(rng.sample(range(first, stop, LANES), k))]


def application_number(office: str, filing: date, r: int) -> str:
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
        r, a = divmod(r, len(PRIO_OFFICES))
        return f"PCT/{PRIO_OFFICES[a]}{filing.year}/{1 + r % 99999:06d}"
    return f"{filing.year}{1 + r % 99999:06d}"
