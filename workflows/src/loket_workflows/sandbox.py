"""The worker's workflow sandbox: the SDK's, made cheaper where it costs and checks nothing.

- Modules that are deterministic and hold no state are passed through: shared by every run
  instead of imported again into each run's sandbox.
- The serialization context of a payload (which workflow or activity it belongs to) is asked
  of the run directly. The SDK asks for it once for every payload it encodes or decodes by
  compiling and running a snippet of code inside the sandbox (temporalio 1.35: 13 % of the
  worker under a burst, more than the workflow code itself). The answer is a pure function
  of the run's info and its pending commands; nothing in it imports or touches the outside.
"""

from __future__ import annotations

from typing import Any

from temporalio.converter import SerializationContext
from temporalio.worker import WorkflowInstance, WorkflowInstanceDetails
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner, SandboxRestrictions

try:  # an SDK internal: without it, the stock (slower, equal) path runs
    from temporalio.worker.workflow_sandbox._runner import _Instance as SdkInstance
except ImportError:  # pragma: no cover
    SdkInstance = None  # type: ignore[assignment, misc]

# Deterministic, side-effect-free at import. Loket's workflow modules too, the workflow
# classes' own included: they hold no module state, and importing them again ran the SDK's
# class decorators for every new run (9 % of the worker under a burst). The sandbox's checks
# of builtins still apply; the tests run the workflows under the default, full sandbox.
PASSED_THROUGH = (
    "pydantic",
    "pydantic_core",
    "annotated_types",
    "loket_contracts",
    "loket_workflows",
)
IN_SANDBOX = "__temporal_in_sandbox"  # where the SDK keeps the run inside its sandbox


if SdkInstance is not None:

    class _AskedDirectly(SdkInstance):
        def get_serialization_context(self, command_info: Any) -> SerializationContext | None:
            in_sandbox: Any = self.globals_and_locals.get(IN_SANDBOX)
            if in_sandbox is None:  # another SDK layout: ask the way the SDK does
                return super().get_serialization_context(command_info)
            found: SerializationContext | None = in_sandbox.get_serialization_context(command_info)
            return found


class LoketSandbox(SandboxedWorkflowRunner):
    def create_instance(self, det: WorkflowInstanceDetails) -> WorkflowInstance:
        if SdkInstance is None:
            return super().create_instance(det)
        return _AskedDirectly(det, self.runner_class, self.restrictions)


def workflow_runner() -> SandboxedWorkflowRunner:
    restrictions = SandboxRestrictions.default.with_passthrough_modules(*PASSED_THROUGH)
    return LoketSandbox(restrictions=restrictions)
