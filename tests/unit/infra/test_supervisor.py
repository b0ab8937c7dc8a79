"""`loket up` supervises its children: one that exits is started again with growing backoff
while the others keep running, and one that keeps dying is given up, not restarted forever."""

from __future__ import annotations

from pathlib import Path

from loket_infra.processes import Process
from loket_infra.stack import EmbeddedStack, StackConfig
from loket_infra.supervision import MAX_RESTARTS


class FakeChild(Process):
    def __init__(self, name: str) -> None:
        super().__init__(name, ["true"], Path(f"/tmp/{name}.log"))
        self.running, self.starts = True, 0

    def alive(self) -> bool:
        return self.running

    def start(self) -> None:
        self.starts += 1
        self.running = True


def stack_with(tmp_path: Path, *names: str) -> tuple[EmbeddedStack, dict[str, FakeChild]]:
    stack = EmbeddedStack(StackConfig(data_dir=tmp_path))
    children = {n: FakeChild(n) for n in names}
    stack.processes.update(children)
    return stack, children


def test_a_crashed_child_is_restarted_after_a_backoff_and_the_others_untouched(
    tmp_path: Path,
) -> None:
    stack, children = stack_with(tmp_path, "vouchers", "gateway")
    assert stack.supervise(now=0.0) == []
    children["vouchers"].running = False
    assert stack.supervise(now=1.0) == ["vouchers exited (code None); restarting in 1s"]
    assert stack.supervise(now=1.5) == []  # still backing off
    assert stack.supervise(now=2.1) == ["vouchers restarted (restart 1)"]
    children["vouchers"].running = False  # dies again at once: the wait doubles
    assert stack.supervise(now=2.2) == ["vouchers exited (code None); restarting in 2s"]
    assert stack.supervise(now=4.3) == ["vouchers restarted (restart 2)"]
    assert (children["vouchers"].starts, children["gateway"].starts) == (2, 0)


def test_a_child_that_keeps_dying_is_given_up(tmp_path: Path) -> None:
    stack, children = stack_with(tmp_path, "charter")
    now = 0.0
    said: list[str] = []
    for _ in range(3 * MAX_RESTARTS):
        children["charter"].running = False
        now += 100.0  # longer than any backoff, shorter than "stable"
        said += stack.supervise(now=now)
        now += 100.0
        said += stack.supervise(now=now)
    assert children["charter"].starts == MAX_RESTARTS
    assert said[-1].startswith(f"charter exited {MAX_RESTARTS} times in a row: given up")


def test_a_child_that_ran_long_enough_has_its_crashes_forgotten(tmp_path: Path) -> None:
    stack, children = stack_with(tmp_path, "workflows")
    children["workflows"].running = False
    stack.supervise(now=1.0)
    stack.supervise(now=3.0)  # restart 1
    assert stack.supervise(now=500.0) == []  # ran stable since 3.0
    children["workflows"].running = False
    assert stack.supervise(now=501.0) == ["workflows exited (code None); restarting in 1s"]


def test_a_child_stopped_for_maintenance_is_left_alone(tmp_path: Path) -> None:
    stack, children = stack_with(tmp_path, "temporal")
    with stack.maintenance("temporal"):
        children["temporal"].running = False
        assert stack.supervise(now=1.0) == [] and stack.supervise(now=100.0) == []
    assert children["temporal"].starts == 0
    assert stack.supervise(now=101.0) == ["temporal exited (code None); restarting in 1s"]
