"""`loket workflows open`: how many application runs of each workflow type are still open.

A retiring workflow type (today `ApplicationV2` and `ApplicationWorkflow`) is deleted from the
worker once its count is zero; until then the worker keeps it registered, unchanged."""

from __future__ import annotations

from loket_contracts.application import V1_WORKFLOW_NAME, V2_WORKFLOW_NAME, WORKFLOW_NAME
from temporalio.client import Client

REGISTERED = (WORKFLOW_NAME, V2_WORKFLOW_NAME, V1_WORKFLOW_NAME)  # the current type first


async def open_runs(client: Client) -> dict[str, int]:
    counts = {}
    for name in REGISTERED:
        query = f"WorkflowType = '{name}' AND ExecutionStatus = 'Running'"
        counts[name] = (await client.count_workflows(query)).count
    return counts


async def report(address: str, namespace: str) -> str:
    counts = await open_runs(await Client.connect(address, namespace=namespace))
    lines = [f"{name}: {count} open run(s)" for name, count in counts.items()]
    retiring = [name for name in REGISTERED[1:] if counts[name] == 0]
    lines += [f"{name} has no open run: it can be deleted from the worker" for name in retiring]
    return "\n".join(lines)
