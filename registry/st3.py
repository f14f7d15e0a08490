"""WIPO ST.3 two-letter codes: states (ISO 3166-1 alpha-2) and intellectual-property organisations."""

from __future__ import annotations

from typing import Final

_STATES: Final = (
    "AD AE AF AG AI AL AM AO AR AT AU AW AZ BA BB BD BE BF BG BH BI BJ BM BN BO BQ BR BS BT BW BY BZ "
    "CA CD CF CG CH CI CK CL CM CN CO CR CU CV CW CY CZ DE DJ DK DM DO DZ EC EE EG EH ER ES ET FI FJ FK "
    "FO FR GA GB GD GE GG GH GI GL GM GN GQ GR GS GT GW GY HK HN HR HT HU ID IE IL IM IN IQ IR IS IT JE "
    "JM JO JP KE KG KH KI KM KN KP KR KW KY KZ LA LB LC LI LK LR LS LT LU LV LY MA MC MD ME MG MK ML MM "
    "MN MO MP MR MS MT MU MV MW MX MY MZ NA NE NG NI NL NO NP NR NZ OM PA PE PG PH PK PL PT PW PY QA RO "
    "RS RU RW SA SB SC SD SE SG SH SI SK SL SM SN SO SR SS ST SV SX SY SZ TC TD TG TH TJ TL TM TN TO TR "
    "TT TV TW TZ UA UG US UY UZ VA VC VE VG VN VU WS YE ZA ZM ZW"
)
#: Organisations with ST.3 codes (ARIPO, Benelux, Eurasian, EUIPO, EPO, GCC, IB, OAPI, CPVO,
#: Nordic and Visegrad Patent Institutes, WIPO).
_ORGANISATIONS: Final = "AP BX EA EM EP GC IB OA QZ XN XV WO"

ST3_CODES: Final[frozenset[str]] = frozenset((_STATES + " " + _ORGANISATIONS).split())


def is_st3(code: str) -> bool:
    """Whether ``code`` is a WIPO ST.3 code known to the registry."""
    return code in ST3_CODES
