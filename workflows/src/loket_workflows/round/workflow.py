"""A batch call's allocation round: started by the call's Temporal schedule at the cut-off.

It asks the allocation service for one optimal round over the applications queued for the
call (`RoundRequested` with the call id), and waits for `RoundSolved`. The allocation service
answers each queued application itself (HoldPlaced / HoldFailed); this workflow's result is
the round's figures: served, bound, gap and the fairness counts, for the programme.
"""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ApplicationError

with workflow.unsafe.imports_passed_through():
    from loket_contracts import commands as c
    from loket_contracts import messages as m
    from loket_contracts.application import SIGNAL_SERVICE_EVENT, ServiceEvent
    from loket_contracts.calls import ROUND_WORKFLOW, RoundInput

    from loket_workflows.application.dto import SendCommand, SendCommands

# A round of 10,000 applications solves in seconds; the service may be down for a deploy.
GIVE_UP_AFTER = timedelta(hours=6)
MAX_RESEND_INTERVAL = timedelta(minutes=15)


@workflow.defn(name=ROUND_WORKFLOW)
class AllocationRound:
    def __init__(self) -> None:
        self.solved: m.RoundSolved | None = None

    @workflow.signal(name=SIGNAL_SERVICE_EVENT)
    def service_event(self, event: ServiceEvent) -> None:
        if event.type == m.ROUND_SOLVED and self.solved is None:
            self.solved = m.RoundSolved.model_validate_json(event.data)

    @workflow.query(name="round")
    def round(self) -> m.RoundSolved | None:
        return self.solved

    @workflow.run
    async def run(self, inp: RoundInput) -> m.RoundSolved:
        round_id = workflow.info().workflow_id  # answers come back to it by correlation id
        asked = m.RoundRequested(
            round_id=round_id, call_id=inp.call_id, country_share_cap=inp.country_share_cap
        )
        send = SendCommands(
            commands=[
                SendCommand(
                    topic=c.ROUND.topic,
                    type=c.ROUND.type,
                    event_id=f"{round_id}/round",  # the same event when sent again
                    correlation_id=round_id,
                    body_json=asked.model_dump_json(),
                )
            ]
        )
        waited, interval = timedelta(0), timedelta(seconds=inp.resend_after_seconds)
        while True:
            await workflow.execute_local_activity(
                "send_commands",
                send,
                start_to_close_timeout=timedelta(seconds=10),
                schedule_to_close_timeout=GIVE_UP_AFTER,
                retry_policy=RetryPolicy(maximum_interval=timedelta(seconds=30)),
            )
            try:
                await workflow.wait_condition(lambda: self.solved is not None, timeout=interval)
            except TimeoutError:
                waited += interval
                if waited >= GIVE_UP_AFTER:
                    raise ApplicationError(
                        f"no RoundSolved for {inp.call_id} within {GIVE_UP_AFTER}",
                        non_retryable=True,
                    ) from None
                workflow.logger.warning("no RoundSolved after %s: asking again", waited)
                interval = min(interval * 2, MAX_RESEND_INTERVAL)
                continue
            assert self.solved is not None
            return self.solved
