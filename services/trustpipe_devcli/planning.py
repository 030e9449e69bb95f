"""Planning from the Terraform: `trustpipe simulate scaling` and `trustpipe cost estimate`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from trustpipe.settings import find_project_root
from trustpipe_cli.options import console, wide

simulate_app = typer.Typer(help="Simulations of what `terraform apply` deploys.", no_args_is_help=True)
cost_app = typer.Typer(help="What the stack costs on AWS (list prices).", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    app.add_typer(simulate_app, name="simulate")
    app.add_typer(cost_app, name="cost")


EnvOpt = Annotated[
    str, typer.Option("--env", help="The env root whose Terraform is read: dev, prod or local.")
]


@simulate_app.command("scaling")
def simulate_scaling(
    env: EnvOpt = "dev",
    objects_per_hour: Annotated[
        int, typer.Option(help="Scored objects an hour's run announces at once (the hourly burst).", min=0)
    ] = 120,
    objects_per_minute: Annotated[
        float, typer.Option(help="Objects a minute in the steady trace.", min=0.0, max=10_000.0)
    ] = 3.0,
    object_seconds: Annotated[
        float | None,
        typer.Option(help="Mean seconds to import one object (default: from make bench's P2).", min=0.01),
    ] = None,
    drain_hook: Annotated[
        bool, typer.Option(help="Terminating importers drain through the lifecycle hook first.")
    ] = True,
    hours: Annotated[int, typer.Option(help="Simulated hours per trace.", min=1, max=24 * 7)] = 24,
    out: Annotated[Path, typer.Option(help="Where scaling.json and scaling.png go.")] = Path(
        ".local/simulate"
    ),
    as_json: Annotated[bool, typer.Option("--json", help="Print the JSON instead of the table.")] = False,
) -> None:
    """Simulate the importer queue and ASG under four scaling policies on three traces."""
    from trustpipe_planning import cost, report, traces
    from trustpipe_planning.deployed import read_deployed

    root = find_project_root(Path.cwd())
    deployed = read_deployed(root / "infra", env)
    if object_seconds is None:
        rows_per_s, source = traces.measured_rows_per_s(root / "bench" / "results.json")
        object_seconds = traces.ROWS_PER_OBJECT / rows_per_s
    else:
        source = "--object-seconds"
    scenario = report.Scenario(
        deployed, object_seconds, source, objects_per_hour, objects_per_minute, drain_hook, hours
    )
    price = cost.load_prices()["ec2_hour"][deployed.instance_type]
    runs = report.simulate(scenario)
    data, picture = report.write(out, scenario, runs, price)
    if as_json:
        print(data.read_text())
        return
    _print_scaling(report.as_json(scenario, runs, price))
    console.print(f"JSON: {data}\npicture: {picture}")


def _print_scaling(result: dict[str, Any]) -> None:
    from rich.table import Table

    s = result["scenario"]
    d = s["deployed"]
    table = Table(
        title=f"importer scaling, env {d['env']} ({d['min_size']}-{d['max_size']} x {d['instance_type']}, "
        f"drain hook {'on' if s['drain_hook'] else 'off'}; {s['mean_object_seconds']:.1f} s an object "
        f"from {s['object_seconds_source']})"
    )
    columns = (
        "trace",
        "policy",
        "drain s",
        "redelivered",
        "instance-min",
        "peak",
        "$ per-second",
        "$ hourly",
    )
    for column in columns:
        table.add_column(column, justify="left" if column in ("trace", "policy") else "right")
    for r in result["runs"]:
        table.add_row(
            r["trace"],
            r["policy"],
            f"{r['drain_seconds']:,.0f}",
            str(r["redelivered"]),
            f"{r['instance_minutes']:,.0f}",
            str(r["peak_instances"]),
            f"{r['cost_per_second_billing']:.2f}",
            f"{r['cost_hourly_billing']:.2f}",
        )
    wide.print(table)


@cost_app.command("estimate")
def cost_estimate(
    messages_per_day: Annotated[
        int, typer.Option("--messages-per-day", help="Messages the sensors send a day.", min=0, max=10**11)
    ],
    env: EnvOpt = "dev",
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of the table.")] = False,
) -> None:
    """Monthly cost by component from the deployed topology and dated us-east-1 list prices."""
    from rich.table import Table

    from trustpipe_planning import cost

    root = find_project_root(Path.cwd())
    estimate = cost.estimate(root / "infra", messages_per_day, env)
    idle = cost.idle(root / "infra", env)
    result = {**estimate.as_dict(), "idle_monthly_total": round(idle.monthly, 2)}
    if as_json:
        print(json.dumps(result, indent=1))
        return
    table = Table(title=f"env {env}, {messages_per_day:,} messages a day: USD a month")
    table.add_column("component")
    table.add_column("USD / month", justify="right")
    for name, usd in sorted(result["components"].items(), key=lambda kv: -kv[1]):
        table.add_row(name, f"{usd:,.2f}")
    table.add_row("[bold]total[/]", f"[bold]{result['monthly_total']:,.2f}[/]")
    wide.print(table)
    for name, usd in result["alternatives"].items():
        wide.print(f"  instead: {name}: {usd:,.2f} a month")
    for rate, stages in result["stages"].items():
        figures = "; ".join(
            f"{stage} ASG {f['asg']:,.2f} / Lambda {f['lambda']:,.2f}" for stage, f in stages.items()
        )
        wide.print(f"  stream stages at {rate}: {figures} a month")
    for tenants, designs in result["tenancy"].items():
        figures = "; ".join(f"{design}: {usd:,.2f}" for design, usd in designs.items())
        wide.print(f"  stream identity at {tenants}: {figures} a month")
    for reviewers, parts in result["review"].items():
        figures = "; ".join(f"{part} {usd:,.2f}" for part, usd in parts.items())
        wide.print(f"  review API at {reviewers}: {figures} a month")
    prices = result["assumptions"]
    wide.print(
        f"one hourly EMR run: {result['per_hourly_run']:.3f} USD; the stack idle: "
        f"{result['idle_monthly_total']:,.2f} USD a month "
        f"(list prices of {prices['prices_recorded']}, {prices['region']})"
    )
