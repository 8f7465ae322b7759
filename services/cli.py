"""The `coldchain` console command: every sub-command is wired here, in one place."""

from __future__ import annotations

import getpass
import sys
from datetime import UTC, datetime
from importlib.metadata import entry_points
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from services.connections import DatabaseSettings
from services.db.migrate import migrate
from services.eta.calibrate_command import app as eta_app
from services.integrity.verify_command import verify_command
from services.reports.report_command import report_command
from services.runner import SERVICES, run_all, run_one

app = typer.Typer(help="coldchain: cold-chain tracking for live-seafood exports.", no_args_is_help=True)
app.add_typer(eta_app, name="eta")
token_app = typer.Typer(help="API bearer tokens.")
app.add_typer(token_app, name="token")
err = Console(stderr=True)
app.command("verify")(verify_command)
app.command("report")(report_command)


@app.command("run")
def run(service: Annotated[str, typer.Argument(help=f"all, or one of: {', '.join(SERVICES)}")]) -> None:
    """Run every service (supervised), or one, in the foreground."""
    if service == "all":
        raise typer.Exit(run_all(list(SERVICES)))
    if service not in SERVICES:
        err.print(f"[red]error:[/red] unknown service {service!r}; choose all or {', '.join(SERVICES)}")
        raise typer.Exit(2)
    raise typer.Exit(run_one(service))


db_app = typer.Typer(help="The database, as its owner (COLDCHAIN_DATABASE_URL).")
app.add_typer(db_app, name="db")


@db_app.command("migrate")
def migrate_command() -> None:
    """Apply the missing migrations, grant each service role its rights, and let each role whose
    own DSN is set (COLDCHAIN_<SERVICE>_DATABASE_URL) log in with that DSN's password."""
    from services.db.roles import own_dsns, prepare_database

    settings = DatabaseSettings()
    applied = prepare_database(settings.dsn, own_dsns(settings))
    err.print(f"applied: {', '.join(applied) or 'nothing (up to date)'}; service roles granted")


app.command("migrate", help="Same as `coldchain db migrate`.")(migrate_command)


@token_app.command("create")
def token_create(
    role: Annotated[str, typer.Option(help="ops, auditor or exporter")],
    party: Annotated[str | None, typer.Option(help="exporter's party: seller or buyer name")] = None,
) -> None:
    """Create an API token; it is printed alone on the last line, and stored only hashed."""
    from services.api.tokens import create_token

    dsn = DatabaseSettings().dsn
    migrate(dsn)
    try:
        token = create_token(dsn, role, party, actor=f"cli:{getpass.getuser()}")  # type: ignore[arg-type]
    except ValueError as exc:
        err.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from exc
    err.print(f"token for role {role}" + (f", party {party}" if party else ""))
    sys.stdout.write(token + "\n")


link_app = typer.Typer(help="Share links: a shipment's page for a party, without a login.")
app.add_typer(link_app, name="link")


@link_app.command("create")
def link_create(
    shipment_id: str,
    party: Annotated[str, typer.Option(help="seller or buyer")],
    days: Annotated[int | None, typer.Option(help="valid this many days (default: deliver_by + 7 days)")] = None,
) -> None:
    """Make a link to the shipment's page for a party; the URL is printed alone on the last line."""
    import psycopg

    from services.api.settings import ApiSettings
    from services.api.share_routes import INSERT_LINK, link_expiry, new_link
    from services.registry.postgres import shipment_by_id_sync

    if party not in ("seller", "buyer"):
        raise typer.BadParameter("--party is seller or buyer")
    settings = ApiSettings()
    with psycopg.connect(settings.dsn) as conn:
        shipment = shipment_by_id_sync(conn, shipment_id)
        if shipment is None:
            Console(stderr=True).print(f"[red]error:[/red] no shipment {shipment_id!r}")
            raise typer.Exit(1)
        now = datetime.now(UTC)
        until = link_expiry(shipment.deliver_by, now, days)
        actor = f"cli:{getpass.getuser()}"
        link_id, token, params = new_link(shipment_id, party, now, until, actor)
        conn.execute("SELECT set_config('coldchain.actor', %s, true)", (actor,))
        conn.execute(INSERT_LINK, params)
    Console(stderr=True).print(f"link {link_id} for the {party} of {shipment_id}, "
                               f"valid until {until:%Y-%m-%d %H:%M} UTC")
    sys.stdout.write(f"{settings.base_url}/s/{token}\n")


@link_app.command("revoke")
def link_revoke(link_id: str) -> None:
    """Revoke a share link by its id (`lnk-…`): it opens nothing from now on."""
    import psycopg

    from services.api.share_routes import REVOKE_LINK

    with psycopg.connect(DatabaseSettings().dsn) as conn:
        conn.execute("SELECT set_config('coldchain.actor', %s, true)", (f"cli:{getpass.getuser()}",))
        revoked = conn.execute(REVOKE_LINK, (link_id,)).rowcount
    Console(stderr=True).print(f"{link_id}: {'revoked' if revoked else 'not found, or revoked already'}")
    raise typer.Exit(0 if revoked else 1)


@app.command("dlq")
def dead_letters(
    device: Annotated[str | None, typer.Option(help="only this device")] = None,
    limit: Annotated[int, typer.Option(help="how many to list")] = 20,
) -> None:
    """List and count the payloads ingest refused, newest first, with the reason."""
    import psycopg
    from psycopg.rows import dict_row

    from services.db.dead_letters import count_query, list_query

    with psycopg.connect(DatabaseSettings().dsn) as conn:
        total = conn.execute(*count_query(device)).fetchone()
        rows = conn.cursor(row_factory=dict_row).execute(*list_query(device, limit)).fetchall()
    table = Table("received", "stage", "topic", "bytes", "reason", title=f"{total[0] if total else 0} refused payloads")
    for row in rows:
        size = row["payload_size"]
        table.add_row(row["received_at"].isoformat(timespec="seconds"), row["stage"], row["mqtt_topic"],
                      "" if size is None else str(size), row["reason"])
    Console().print(table)


def add_plugin_commands(target: typer.Typer) -> None:
    """Commands other installed packages add (the dev tools: `stack`, `simulate`, `demo`); the
    services themselves import none of them."""
    for entry in entry_points(group="coldchain.commands"):
        entry.load()(target)


def main() -> None:
    add_plugin_commands(app)
    app()


if __name__ == "__main__":
    main()
