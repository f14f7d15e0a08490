"""WIPO ST.3 two-letter codes of states, other entities and intergovernmental organisations.

Source: WIPO Standard ST.3, "Recommended standard on two-letter codes for the representation of
states, other entities and intergovernmental organizations" (Handbook on Industrial Property
Information and Documentation, Part 3), Annex A. ST.3 takes the codes of states and other
entities from ISO 3166-1 alpha-2 (all 249 current codes below, as of ISO 3166-1:2020 with its
amendments to 2024) and adds the codes of intergovernmental organisations. ``XX`` (ST.3: unknown
states, other entities or individuals) is a valid ST.3 code but names no office, so no record
can belong to it. Former codes (ST.3 Annex B, e.g. ``SU``, ``DD``, ``YU``) are not offices that can
anchor and are not listed.
"""

from __future__ import annotations

from typing import Final

#: ISO 3166-1 alpha-2, as ST.3 Annex A lists them.
_STATES: Final = (
    "AD AE AF AG AI AL AM AO AQ AR AS AT AU AW AX AZ "
    "BA BB BD BE BF BG BH BI BJ BL BM BN BO BQ BR BS BT BV BW BY BZ "
    "CA CC CD CF CG CH CI CK CL CM CN CO CR CU CV CW CX CY CZ "
    "DE DJ DK DM DO DZ EC EE EG EH ER ES ET FI FJ FK FM FO FR "
    "GA GB GD GE GF GG GH GI GL GM GN GP GQ GR GS GT GU GW GY "
    "HK HM HN HR HT HU ID IE IL IM IN IO IQ IR IS IT JE JM JO JP "
    "KE KG KH KI KM KN KP KR KW KY KZ LA LB LC LI LK LR LS LT LU LV LY "
    "MA MC MD ME MF MG MH MK ML MM MN MO MP MQ MR MS MT MU MV MW MX MY MZ "
    "NA NC NE NF NG NI NL NO NP NR NU NZ OM PA PE PF PG PH PK PL PM PN PR PS PT PW PY QA "
    "RE RO RS RU RW SA SB SC SD SE SG SH SI SJ SK SL SM SN SO SR SS ST SV SX SY SZ "
    "TC TD TF TG TH TJ TK TL TM TN TO TR TT TV TW TZ UA UG UM US UY UZ "
    "VA VC VE VG VI VN VU WF WS YE YT ZA ZM ZW"
)
#: Intergovernmental organisations (ST.3 Annex A): ARIPO, Benelux Office for IP, Eurasian Patent
#: Office, EUIPO, European Patent Office, GCC Patent Office, International Bureau of WIPO, OAPI,
#: Community Plant Variety Office, WIPO (PCT), Nordic Patent Institute, UPOV, Visegrad Patent Institute.
_ORGANISATIONS: Final = "AP BX EA EM EP GC IB OA QZ WO XN XU XV"
#: ST.3's code for unknown states, other entities or individuals: valid ST.3, never an office.
UNKNOWN: Final = "XX"

ST3_CODES: Final[frozenset[str]] = frozenset((_STATES + " " + _ORGANISATIONS).split())


def is_st3(code: str) -> bool:
    """Whether ``code`` is a WIPO ST.3 code of a state or organisation that can own records."""
    return code in ST3_CODES
