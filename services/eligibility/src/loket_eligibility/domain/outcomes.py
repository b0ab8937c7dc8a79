"""One rule's outcome: its id, the scheme version, the legal source, a sentence for the founder."""

from __future__ import annotations

from typing import Any

from loket_contracts.messages import RuleOutcome
from loket_contracts.scheme import Scheme, Sourced


def outcome(
    rule_id: str,
    rule: Sourced[Any] | str,
    scheme: Scheme,
    passed: bool,
    reason: str,
    needs_review: bool = False,
) -> RuleOutcome:
    source = rule.source if isinstance(rule, Sourced) else rule
    return RuleOutcome(
        rule_id=rule_id,
        passed=passed,
        legal_source=source,
        reason=reason,
        needs_review=needs_review,
        scheme_version=scheme.version,
    )
