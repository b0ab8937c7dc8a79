"""`ApplicationV2`: the runs started before `ApplicationV3`, until the last of them ends.

The same steps and handlers as `ApplicationV3`, behind the two `patched` branches that V3 no
longer carries. Its histories replay in `test_replay.py` (`app2-` from before both changes,
`app3-` before the second, `app4-` after both). It is deleted, with these branches, once
`loket workflows open` shows no open run of it (README: rolling out a change).
"""

# No `from __future__ import annotations`: as in workflow.py.

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from loket_contracts.application import V2_WORKFLOW_NAME, ApplicationInput, ApplicationStatus

    from loket_workflows.application.workflow import ApplicationV3

# A send may bring its question's answer back (answers.py); runs started before it send their
# questions after the timer.
ANSWERS_IN_SEND = "answers-in-send"
# A wait for people announces its stage once the answers it rests on are in history; runs
# started before it announce at once.
ANNOUNCE_RECORDED = "announce-by-activity"


@workflow.defn(name=V2_WORKFLOW_NAME)
class ApplicationV2(ApplicationV3):
    @workflow.run
    async def run(self, inp: ApplicationInput) -> ApplicationStatus:
        # First, as before: each marker's presence in history tells which code the run began on.
        conv = self.conv
        conv.answers_in_send = workflow.patched(ANSWERS_IN_SEND)
        conv.announce_recorded = conv.answers_in_send and workflow.patched(ANNOUNCE_RECORDED)
        return await self._live()
