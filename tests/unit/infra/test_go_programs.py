"""The image tags say which Go modules they are built from."""

from __future__ import annotations

import re

from loket_infra import go_programs, images


def required(module_dir: str, module: str) -> str:
    text = (go_programs.GO_DIR / module_dir / "go.mod").read_text()
    found = re.search(rf"^\s*{re.escape(module)} (v\S+)", text, re.MULTILINE)
    assert found, f"{module} is not required in infra/go/{module_dir}/go.mod"
    return found.group(1)


def test_image_tags_follow_the_pinned_modules() -> None:
    assert required("temporal", go_programs.TEMPORAL_MODULE) == f"v{images.TEMPORAL_VERSION}"
    assert required("jaeger", "github.com/jaegertracing/jaeger") == f"v{images.JAEGER_VERSION}"


def test_every_program_is_a_tool_of_its_module() -> None:
    for program in go_programs.PROGRAMS:
        text = (go_programs.GO_DIR / program.module_dir / "go.mod").read_text()
        assert program.package in text, f"{program.package}: no tool line"
