"""Why a sign-in is refused: a stable reason code, and a detail for the portal and the log."""

from __future__ import annotations

import enum
from dataclasses import dataclass


class RefusalReason(enum.StrEnum):
    LEVEL_TOO_LOW = "level_too_low"
    OTHER_SERVICE = "other_service"
    MANDATE_NOT_ADMITTED = "mandate_not_admitted"
    NOT_A_RECOGNISED_SPONSOR = "not_a_recognised_sponsor"
    NO_KVK_NUMBER = "no_kvk_number"
    COMPANY_NOT_IN_REGISTER = "company_not_in_register"
    ESTABLISHMENT_NOT_OF_COMPANY = "establishment_not_of_company"
    ESTABLISHMENT_STOPPED = "establishment_stopped"
    NO_LOCAL_MANDATE = "no_local_mandate"
    LOCAL_MANDATE_CONFLICT = "local_mandate_conflict"


@dataclass(frozen=True)
class Refused:
    reason: RefusalReason
    detail: str
