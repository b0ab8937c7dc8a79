"""The worker's sandbox (loket_workflows.sandbox): every payload gets the serialization context
the SDK's own sandbox gives it, and the workflow code it no longer re-imports per run reads
time and chance only through `workflow`."""

from __future__ import annotations

import ast
import uuid
from collections.abc import Sequence
from datetime import timedelta
from pathlib import Path
from typing import Any, Self

import loket_workflows
from loket_workflows.sandbox import PASSED_THROUGH, workflow_runner
from temporalio import activity, workflow
from temporalio.api.common.v1 import Payload
from temporalio.converter import (
    ActivitySerializationContext,
    DataConverter,
    PayloadCodec,
    SerializationContext,
    WithSerializationContext,
    WorkflowSerializationContext,
)
from temporalio.worker import Worker, WorkflowRunner
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner, SandboxRestrictions

from tests.temporal_test_server import start_time_skipping


def _key(context: SerializationContext | None) -> str:
    match context:
        case ActivitySerializationContext():
            return f"activity:{context.activity_type}:{context.is_local}"
        case WorkflowSerializationContext():
            return "workflow"
    return "none"


class ContextCodec(PayloadCodec, WithSerializationContext):
    """Records the context of every payload it encodes and decodes."""

    def __init__(self, seen: list[tuple[str, str]], context: SerializationContext | None = None):
        self.seen, self.context = seen, context

    def with_context(self, context: SerializationContext) -> Self:
        return type(self)(self.seen, context)

    async def encode(self, payloads: Sequence[Payload]) -> list[Payload]:
        self.seen.extend(("encode", _key(self.context)) for _ in payloads)
        return list(payloads)

    async def decode(self, payloads: Sequence[Payload]) -> list[Payload]:
        self.seen.extend(("decode", _key(self.context)) for _ in payloads)
        return list(payloads)


@activity.defn
async def shout(word: str) -> str:
    return word.upper()


@workflow.defn(sandboxed=True)
class Shouting:
    @workflow.run
    async def run(self, word: str) -> str:
        far = await workflow.execute_activity(
            shout, word, start_to_close_timeout=timedelta(seconds=30)
        )
        near = await workflow.execute_local_activity(
            shout, far + "!", start_to_close_timeout=timedelta(seconds=30)
        )
        return near


async def contexts_seen(runner: WorkflowRunner) -> list[tuple[str, str]]:
    seen: list[tuple[str, str]] = []
    converter = DataConverter(payload_codec=ContextCodec(seen))
    async with (
        await start_time_skipping(data_converter=converter) as env,
        Worker(
            env.client,
            task_queue=f"sandbox-{uuid.uuid4().hex[:8]}",
            workflows=[Shouting],
            activities=[shout],
            workflow_runner=runner,
        ) as worker,
    ):
        result: Any = await env.client.execute_workflow(
            Shouting.run, "hej", id=f"shouting-{uuid.uuid4().hex[:8]}", task_queue=worker.task_queue
        )
        assert result == "HEJ!"
    return seen


async def test_payloads_get_the_contexts_the_sdk_gives_them() -> None:
    stock = SandboxedWorkflowRunner(
        restrictions=SandboxRestrictions.default.with_passthrough_modules(*PASSED_THROUGH)
    )
    expected = await contexts_seen(stock)
    # The run saw workflow and activity contexts both, so the comparison says something.
    assert {key for _, key in expected} >= {"workflow", "activity:shout:False"}
    assert sorted(await contexts_seen(workflow_runner())) == sorted(expected)


# What the sandbox no longer checks in passed-through modules (it does still refuse `open`
# and the like), checked here instead: workflow code reads the clock, randomness and the
# environment only through `workflow`. A module outside this list is a question for review.
WORKFLOW_ROOTS = (
    "application/workflow.py",
    "application/v2.py",
    "application/v1.py",
    "round/workflow.py",
)
ALLOWED_IMPORTS = {
    "__future__", "asyncio", "collections", "contextlib", "dataclasses", "datetime", "decimal",
    "enum", "typing", "pydantic", "temporalio", "loket_contracts", "loket_workflows",
}  # fmt: skip
CLOCK_READS = {"now", "today", "utcnow", "fromtimestamp"}
PACKAGE = Path(loket_workflows.__file__).parent


def _imports(tree: ast.AST) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            if node.module.startswith("loket_workflows"):  # perhaps modules of a package
                found |= {f"{node.module}.{alias.name}" for alias in node.names}
    return found


def workflow_side_modules() -> dict[Path, ast.AST]:
    """The workflows' modules and every Loket module they import, transitively."""
    todo, seen = [PACKAGE / root for root in WORKFLOW_ROOTS], dict[Path, ast.AST]()
    while todo:
        path = todo.pop()
        if path in seen:
            continue
        seen[path] = tree = ast.parse(path.read_text(), str(path))
        for name in _imports(tree):
            if name.startswith("loket_workflows."):
                base = PACKAGE.joinpath(*name.split(".")[1:])
                todo += [p for p in (base.with_suffix(".py"), base / "__init__.py") if p.exists()]
    return seen


def test_workflow_code_takes_time_and_chance_from_workflow_only() -> None:
    modules = workflow_side_modules()
    assert len(modules) > len(WORKFLOW_ROOTS)  # the steps were found too
    wrong: list[str] = []
    for path, tree in modules.items():
        where = path.relative_to(PACKAGE)
        wrong += [
            f"{where}: imports {name}"
            for name in sorted(_imports(tree))
            if name.split(".")[0] not in ALLOWED_IMPORTS
        ]
        wrong += [
            f"{where}:{node.lineno}: {ast.unparse(node.func)}()"
            for node in ast.walk(tree)
            if isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr in CLOCK_READS
            and ast.unparse(node.func) != "workflow.now"
        ]
    assert not wrong, wrong
