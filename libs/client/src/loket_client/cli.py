"""A start-up's commands of the `loket` CLI: log in, apply, follow, read and accept the terms,
decline, cancel, report. The gateway is LOKET_GATEWAY_URL (default `loket up`'s); a refusal
prints the problem's title and detail, never a stack trace."""

from __future__ import annotations

import functools
import json
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, TypeVar

import httpx
import typer
import yaml
from aiokafka.errors import KafkaError
from loket_contracts.application import (
    TERMINAL_STAGES,
    AccessReport,
    ApplicationStatus,
    Stage,
)
from loket_contracts.submission import ApplicationRequest
from pydantic import ValidationError
from rich.console import Console
from rich.live import Live
from rich.table import Table

from loket_client.client import LoketClient, ProblemError
from loket_client.login import DEFAULT_ISSUER, NotLoggedIn, current_token, home, login

app = typer.Typer(no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False)
out = Console()
err = Console(stderr=True)
F = TypeVar("F", bound=Callable[..., Any])
# Stages where the start-up (or a manager) must act, or a batch call's cut-off is awaited,
# not Loket: --follow stops there.
YOURS = {
    Stage.AWAITING_ACCEPTANCE,
    Stage.MANUAL_REVIEW,
    Stage.VOUCHER_ISSUED,
    Stage.REPORT_DUE,
    Stage.AWAITING_ROUND,
}
App = Annotated[str, typer.Argument(help="the application id (app-…)")]


def gateway() -> str:
    return os.environ.get("LOKET_GATEWAY_URL", "http://127.0.0.1:18080")


def client() -> LoketClient:
    return LoketClient(gateway(), current_token)


def friendly(command: F) -> F:
    """Refusals and bad files as one readable line and exit code 1."""

    @functools.wraps(command)
    def run(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except ProblemError as exc:
            err.print(f"[bold red]{exc.title}[/] ({exc.status}): {exc.detail}")
        except NotLoggedIn as exc:
            err.print(f"[bold red]Not logged in[/]: {exc}")
        except ValidationError as exc:
            where = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
            err.print(f"[bold red]Not a valid file[/]: {where}")
        except (httpx.HTTPError, KafkaError) as exc:
            err.print(f"[bold red]Cannot reach Loket[/]: {exc!r}")
        except (OSError, ValueError, yaml.YAMLError) as exc:
            err.print(f"[bold red]Cannot read it[/]: {exc}")
        raise typer.Exit(1)

    return run  # type: ignore[return-value]


def _saved(app_id: str, kind: str) -> Path:
    folder = home() / kind
    folder.mkdir(parents=True, exist_ok=True)
    return folder / f"{app_id}.json"


@app.command("login")
@friendly
def login_command(
    issuer: Annotated[str, typer.Option(envvar="LOKET_OIDC_ISSUER")] = DEFAULT_ISSUER,
    browser: Annotated[bool, typer.Option(help="open the login page in a browser")] = True,
) -> None:
    """Log in at the programme's identity provider (your browser does the login)."""
    found = login(
        issuer, lambda url: err.print(f"Log in at: {url}", soft_wrap=True), open_browser=browser
    )
    left = (found.expires_at - time.time()) / 60
    out.print(f"Logged in at {issuer} (token for {left:.0f} min, refreshed as needed)")


@app.command()
@friendly
def apply(
    file: Annotated[Path | None, typer.Argument(help="application.yaml")] = None,
    from_: Annotated[str | None, typer.Option("--from", help="apply again as APP did")] = None,
) -> None:
    """Apply for access vouchers (YAML or JSON, the API's application body)."""
    if file is None and not from_:
        raise OSError("give an application.yaml or --from APP")
    with client() as loket:
        if from_:  # as submitted, whoever submitted it (the gateway keeps it)
            request = loket.submitted(from_)
        else:
            assert file is not None
            request = ApplicationRequest.model_validate(yaml.safe_load(file.read_text()))
        accepted = loket.apply(request)
    out.print(f"Submitted [bold]{accepted.application_id}[/] ({accepted.stage})")
    out.print(f"Follow it: loket status {accepted.application_id} --follow")


def _status_table(s: ApplicationStatus) -> Table:
    table = Table(title=f"{s.application_id}: [bold]{s.stage}[/]", show_header=False)
    for change in s.history[-6:]:
        table.add_row(change.at.strftime("%Y-%m-%d %H:%M:%S"), str(change.stage))
    for reason in s.reasons[:5]:
        table.add_row("reason", reason)
    if s.aid is not None:
        table.add_row("voucher", f"EUR {s.aid.voucher_eur:,.2f} ({s.aid.instrument})")
    for what, when in s.deadlines.items():
        table.add_row(f"due: {what}", when.strftime("%Y-%m-%d %H:%M UTC"))
    if s.voucher_id:
        table.add_row("voucher id", s.voucher_id)
    return table


@app.command()
@friendly
def status(
    app_id: App,
    follow: Annotated[bool, typer.Option(help="stay until it needs you or ends")] = False,
) -> None:
    """Where an application is, and what is due."""
    with client() as loket:
        current = loket.status(app_id)
        if not follow:
            out.print(_status_table(current))
            return
        with Live(_status_table(current), console=out, refresh_per_second=4) as live:
            while current.stage not in TERMINAL_STAGES | YOURS:
                time.sleep(1)
                current = loket.status(app_id)
                live.update(_status_table(current))


@app.command()
@friendly
def terms(app_id: App, out_file: Annotated[Path | None, typer.Option("--out")] = None) -> None:
    """Download the agreement (PDF) and remember the exact text's hash for `loket accept`."""
    with client() as loket:
        found = loket.terms(app_id)
        pdf = loket.agreement(app_id, "pdf")
    target = out_file or Path(f"{app_id}.pdf")
    target.write_bytes(pdf)
    _saved(app_id, "terms").write_text(json.dumps({"sha256": found.sha256}))
    out.print(
        f"Agreement {found.template_id} v{found.template_version} ({found.language}) → {target}"
    )
    out.print(f"SHA-256 {found.sha256}; accept it with: loket accept {app_id}")


def _read_hash(app_id: str) -> str:
    kept = _saved(app_id, "terms")
    if not kept.exists():
        raise OSError(f"read the terms first: loket terms {app_id}")
    return str(json.loads(kept.read_text())["sha256"])


@app.command()
@friendly
def accept(app_id: App) -> None:
    """Accept the terms you downloaded (by their hash: changed terms are refused)."""
    with client() as loket:
        done = loket.accept(app_id, _read_hash(app_id))
    out.print(f"Accepted: {app_id} is [bold]{done.stage}[/]")


@app.command()
@friendly
def decline(app_id: App, reason: Annotated[str, typer.Option()] = "declined") -> None:
    """Decline the terms you downloaded."""
    with client() as loket:
        done = loket.decline(app_id, _read_hash(app_id), reason)
    out.print(f"Declined: {app_id} is [bold]{done.stage}[/]")


@app.command()
@friendly
def cancel(app_id: App, reason: Annotated[str, typer.Option()]) -> None:
    """Withdraw an application or give a voucher back."""
    with client() as loket:
        done = loket.cancel(app_id, reason)
    out.print(f"Cancelled: {app_id} is [bold]{done.stage}[/]")


@app.command()
@friendly
def report(app_id: App, file: Annotated[Path, typer.Argument(help="report.yaml")]) -> None:
    """Submit the access report (summary, results, publications)."""
    body = AccessReport.model_validate(yaml.safe_load(file.read_text()))
    with client() as loket:
        done = loket.report(app_id, body)
    out.print(f"Report received: {app_id} is [bold]{done.stage}[/]")


facility_app = typer.Typer(
    no_args_is_help=True, help="A facility's publications (the facility SDK)."
)
app.add_typer(facility_app, name="facility")


@facility_app.command("publish")
@friendly
def facility_publish(
    file: Annotated[Path, typer.Argument(help="facility.yaml, or a CSV of slots or deliveries")],
    facility: Annotated[
        str | None, typer.Option(help="the facility id (else from the file)")
    ] = None,
    via: Annotated[str, typer.Option(help="http (the gateway) or kafka")] = "http",
    dry_run: Annotated[bool, typer.Option(help="validate and show, publish nothing")] = False,
) -> None:
    """Publish what is new or changed in FILE, in order, with the next sequences."""
    from loket_client import facility as sdk
    from loket_client import facility_send

    facility_id, items = sdk.read(file, facility)
    ledger = sdk.Ledger.load(facility_id)
    planned = sdk.plan(facility_id, items, ledger)
    table = Table(
        title=f"{facility_id}: {len(planned)} to publish (after sequence {ledger.sequence})"
    )
    for column in ("sequence", "what", "key"):
        table.add_column(column)
    for p in planned:
        table.add_row(str(p.body.sequence), p.item.kind, p.item.key)  # type: ignore[attr-defined]
    out.print(table)
    if dry_run or not planned:
        out.print("dry run: nothing sent" if dry_run else "nothing new: nothing sent")
        return
    if via == "kafka":
        bootstrap = os.environ.get("LOKET_KAFKA_BOOTSTRAP", "127.0.0.1:19092")
        sender = facility_send.over_kafka(bootstrap, facility_id, facility_send.key_from_env())
    elif via == "http":
        token = os.environ.get("LOKET_TOKEN") or facility_send.facility_token(
            os.environ.get("LOKET_OIDC_ISSUER", DEFAULT_ISSUER),
            facility_id,
            os.environ.get("LOKET_FACILITY_SECRET", ""),
        )
        sender = facility_send.over_http(gateway(), facility_id, token)
    else:
        raise OSError(f"--via must be http or kafka, not {via!r}")
    with sender as send:
        sent = sdk.publish(facility_id, planned, ledger, send)
    out.print(f"published {sent} event(s); {facility_id} is at sequence {ledger.sequence}")
