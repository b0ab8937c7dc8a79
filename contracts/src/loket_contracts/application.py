"""The application workflow's public interface: names, inputs, updates, queries.

The gateway drives workflows by these names only; it never imports workflow code.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Final

from pydantic import BaseModel, Field, computed_field

from loket_contracts.bounds import ID_MAX, TEXT_MAX, CallId, Eur, Id, Seconds, Text
from loket_contracts.capacity import PriorityArea
from loket_contracts.messages import (
    AllocatedLine,
    Applicant,
    Instrument,
    Language,
    Needs,
    RuleOutcome,
    SchemeVersion,
)
from loket_contracts.seals import Actor

# New applications run ApplicationV3. The earlier types stay registered, unchanged, until their
# last run ends; then they are deleted (README: rolling out a change to the workflow).
WORKFLOW_NAME: Final = "ApplicationV3"
V2_WORKFLOW_NAME: Final = "ApplicationV2"
V1_WORKFLOW_NAME: Final = "ApplicationWorkflow"
TASK_QUEUE: Final = "loket-applications"
SIGNAL_SERVICE_EVENT: Final = "service_event"
UPDATE_ACCEPT_TERMS: Final = "accept_terms"
UPDATE_DECLINE_TERMS: Final = "decline_terms"
UPDATE_CANCEL: Final = "cancel"
UPDATE_REVIEW: Final = "review"
UPDATE_SUBMIT_REPORT: Final = "submit_report"
QUERY_STATUS: Final = "status"
QUERY_TERMS: Final = "terms"
QUERY_DEADLINES: Final = "deadlines"

DEFAULT_ACCEPTANCE_WINDOW_S: Final = 14 * 24 * 3600  # SPEC lifecycle step 6: 14 days
DEFAULT_HOLD_TTL_S: Final = 21 * 24 * 3600  # holds outlive the acceptance window
DEFAULT_REVIEW_ESCALATION_S: Final = 5 * 24 * 3600  # manager review: escalate after 5 days
DEFAULT_VOUCHER_VALIDITY_S: Final = 365 * 24 * 3600  # SPEC lifecycle step 8: 12 months
DEFAULT_ACCESS_REPORT_S: Final = 60 * 24 * 3600  # SPEC lifecycle step 9: 60 days
DEFAULT_RESEND_AFTER_S: Final = 60
DEFAULT_STUCK_NOTICE_S: Final = 3600


class Stage(StrEnum):
    SUBMITTED = "submitted"
    ELIGIBILITY = "eligibility"
    ALLOCATION = "allocation"
    AWAITING_ROUND = "awaiting_round"  # a batch call's application waits for the cut-off
    SCREENING = "screening"
    TERMS = "terms"
    AWAITING_ACCEPTANCE = "awaiting_acceptance"
    ISSUING = "issuing"
    VOUCHER_ISSUED = "voucher_issued"  # facilities deliver, the voucher is redeemed
    REPORT_DUE = "report_due"  # the voucher is closed; the applicant's access report is due
    CLOSED = "closed"
    # terminal, not granted
    INELIGIBLE = "ineligible"
    MANUAL_REVIEW = "manual_review"
    UNALLOCATABLE = "unallocatable"
    REFUSED = "refused"
    DECLINED = "declined"
    EXPIRED = "expired"
    CANCELLED = "cancelled"
    FAILED = "failed"


TERMINAL_STAGES: Final = frozenset(
    {
        Stage.CLOSED,
        Stage.INELIGIBLE,
        Stage.UNALLOCATABLE,
        Stage.REFUSED,
        Stage.DECLINED,
        Stage.EXPIRED,
        Stage.CANCELLED,
        Stage.FAILED,
    }
)


SEAL_MAX: Final = 4096


class Owner(BaseModel):
    """The organisation an application belongs to, and who submitted it (from their token)."""

    org: Id
    subject: str = Field(max_length=200)
    name: str = Field(max_length=200)


class DecisionRecord(BaseModel):
    """A human decision on the application: what, who (as authenticated), when."""

    decision: str
    actor: Actor
    at: datetime
    summary: str


class ApplicationInput(BaseModel):
    application_id: Id
    owner: Owner | None = None  # None only for applications submitted before identities
    applicant: Applicant
    priority_area: PriorityArea
    call_id: CallId
    needs: Needs = Field(min_length=1, max_length=20)
    applicant_payment_eur: Eur = Decimal(0)
    language: Language = "en"  # of the agreement; English is binding
    acceptance_window_seconds: Seconds = DEFAULT_ACCEPTANCE_WINDOW_S
    hold_ttl_seconds: Seconds = DEFAULT_HOLD_TTL_S
    review_escalation_seconds: Seconds = DEFAULT_REVIEW_ESCALATION_S
    voucher_validity_seconds: Seconds = DEFAULT_VOUCHER_VALIDITY_S
    access_report_seconds: Seconds = DEFAULT_ACCESS_REPORT_S
    # No answer within this: the command is sent again (same event id), with backoff.
    resend_after_seconds: Seconds = DEFAULT_RESEND_AFTER_S
    # Waiting this long for one answer tells a programme manager.
    stuck_notice_seconds: Seconds = DEFAULT_STUCK_NOTICE_S
    submitted_at: datetime
    # The scheme version in force at submission: every decision of this application uses it.
    # None: submitted before versions were pinned (pilot-2026).
    scheme_version: SchemeVersion | None = None
    # A batch call's cut-off: the application waits for the call's allocation round then.
    # None: an online call (first come), and every application submitted before calls had modes.
    batch_round_at: datetime | None = None


class ServiceEvent(BaseModel):
    """A service's result, brought from Kafka to the workflow by the worker's bridge: as the
    result of the send that asked, or as a signal."""

    event_id: str
    type: str
    data: str  # the JSON body, validated by the workflow against the contract for `type`


class AidSummary(BaseModel):
    instrument: Instrument
    intensity: Decimal = Decimal(1)
    aid_element_eur: Decimal
    voucher_eur: Decimal
    co_payment_eur: Decimal
    reason: str


class StageChange(BaseModel):
    stage: Stage
    at: datetime


class ApplicationStatus(BaseModel):
    application_id: str
    stage: Stage
    reasons: list[str] = Field(default_factory=list)
    eligibility: list[RuleOutcome] = Field(default_factory=list)
    sme_category: str | None = None
    allocation: list[AllocatedLine] = Field(default_factory=list)
    aid: AidSummary | None = None
    terms_sha256: str | None = None
    acceptance_deadline: datetime | None = None
    voucher_id: str | None = None
    acceptance: AcceptanceRecord | None = None
    delivery: DeliveryProgress | None = None
    report_due: datetime | None = None
    access_report: AccessReport | None = None
    history: list[StageChange] = Field(default_factory=list)
    decisions: list[DecisionRecord] = Field(default_factory=list)

    @computed_field  # type: ignore[prop-decorator]
    @property
    def deadlines(self) -> dict[str, datetime]:
        """What is due when, for the step the application is in."""
        out: dict[str, datetime] = {}
        if self.stage == Stage.AWAITING_ACCEPTANCE and self.acceptance_deadline:
            out["acceptance"] = self.acceptance_deadline
        if self.stage == Stage.VOUCHER_ISSUED and self.delivery is not None:
            out["voucher_expiry"] = self.delivery.valid_until
        if self.stage == Stage.REPORT_DUE and self.report_due is not None:
            out["access_report"] = self.report_due
        return out


class DeliveryProgress(BaseModel):
    """The voucher being used: what facilities delivered and what it paid."""

    valid_until: datetime
    units_booked: int
    units_delivered: int = 0
    voucher_eur: Decimal
    redeemed_eur: Decimal = Decimal(0)
    last_delivery_at: datetime | None = None
    closed_reason: str | None = None
    released_eur: Decimal | None = None  # unused value back to the call budget at closure
    aid_recorded_eur: Decimal | None = None


class AccessReport(BaseModel):
    """The applicant's report on the access received (SPEC lifecycle step 9)."""

    summary: str = Field(min_length=20, max_length=20_000)
    results: list[Text] = Field(default_factory=list, max_length=50)
    publications: list[Text] = Field(default_factory=list, max_length=50)
    submitted_by: str | None = Field(default=None, max_length=200)
    submitted_at: datetime | None = None  # set by the workflow
    seal: str | None = Field(
        default=None, max_length=SEAL_MAX, description="set by the gateway: who decided, signed"
    )


class Terms(BaseModel):
    application_id: str
    template_id: str
    template_version: str
    text: str
    sha256: str
    language: Language = "en"
    documents: dict[str, str] = Field(default_factory=dict)


class RequestMetadata(BaseModel):
    """What the gateway saw of the HTTP request that carried a decision (set by the gateway)."""

    request_id: str = Field(max_length=ID_MAX)
    received_at: datetime
    client: str | None = Field(default=None, max_length=ID_MAX)
    user_agent: str | None = Field(default=None, max_length=TEXT_MAX)


class TermsDecision(BaseModel):
    """What the applicant accepts or declines: bound to the exact text by its SHA-256."""

    terms_sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    reason: str | None = Field(default=None, max_length=TEXT_MAX)
    decided_by: str | None = Field(
        default=None, max_length=200, description="the person deciding for the applicant"
    )
    request: RequestMetadata | None = None  # overwritten by the gateway
    seal: str | None = Field(
        default=None, max_length=SEAL_MAX, description="set by the gateway: who decided, signed"
    )


class ManagerDecision(BaseModel):
    """A programme manager's decision on an application in manual review."""

    approve: bool
    reason: str = Field(min_length=1, max_length=1000)
    # The deciding manager is the seal's actor; this name is kept for decisions made before.
    manager: str | None = Field(default=None, max_length=200)
    seal: str | None = Field(
        default=None, max_length=SEAL_MAX, description="set by the gateway: who decided, signed"
    )


class Notification(BaseModel):
    """Someone must act: published on loket.notifications.v1 for whoever delivers messages."""

    application_id: str
    audience: str  # applicant | manager | facility
    kind: str
    message: str
    due: datetime | None = None
    facility_id: str | None = None  # which facility, when the audience is a facility


STAGE_CHANGED: Final = "eu.loket.application.stage.changed.v1"


class StageChanged(BaseModel):
    """Published on loket.applications.events.v1 at every stage change, for read models."""

    application_id: str
    sequence: int  # the change's position in the application's history
    stage: Stage
    at: datetime
    applicant_name: str
    applicant_country: str
    priority_area: str
    call_id: str
    facility_countries: list[str] = Field(default_factory=list)
    voucher_id: str | None = None
    reasons: list[str] = Field(default_factory=list)
    # The terms on offer, by hash on every change (None: none on offer); in full when the
    # application starts waiting for the applicant's answer, so that a read model can serve
    # them without asking the workflow.
    terms_sha256: str | None = None
    terms: Terms | None = None


NOTIFICATION: Final = "eu.loket.notification.v1"


class Cancellation(BaseModel):
    reason: str = Field(min_length=1, max_length=500)
    by: str | None = Field(default=None, max_length=200)
    seal: str | None = Field(
        default=None, max_length=SEAL_MAX, description="set by the gateway: who decided, signed"
    )


# Temporal search attributes the launcher registers, so managers can filter in the UI.
SA_STAGE: Final = "LoketStage"
SA_APPLICANT_COUNTRY: Final = "LoketApplicantCountry"
SA_PRIORITY_AREA: Final = "LoketPriorityArea"
SA_CALL: Final = "LoketCall"
SA_FACILITY_COUNTRIES: Final = "LoketFacilityCountries"
SEARCH_ATTRIBUTES: Final = {
    SA_STAGE: "Keyword",
    SA_APPLICANT_COUNTRY: "Keyword",
    SA_PRIORITY_AREA: "Keyword",
    SA_CALL: "Keyword",
    SA_FACILITY_COUNTRIES: "KeywordList",
}


class AcceptanceRecord(BaseModel):
    """Immutable record of an acceptance: who, when, which text, in which language."""

    application_id: str
    terms_sha256: str
    template_id: str
    template_version: str
    language: str
    decided_by: str | None
    accepted_at: datetime
    request: RequestMetadata | None
    actor: Actor | None = None  # the authenticated person who accepted (subject and name)
