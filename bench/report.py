"""The benchmark's results as a Markdown table and PNG plots (matplotlib, Agg backend)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # after use("Agg"): the backend must be chosen first

TARGET_READINGS_PER_S = 10_000
ALERT_P99_TARGET_MS = 1_000


def markdown(results: dict[str, Any]) -> str:
    lines = [f"# coldchain benchmark ({results['when']})", "",
             f"Machine: {results['machine']}. Shared stack: other work may have run at the same time; "
             "figures are for orders of magnitude and ratios within one run.", ""]
    earlier = results.get("earlier_sections")
    if earlier:
        lines += [f"A partial run: {', '.join(earlier['keys'])} are from the run of {earlier['when']}.", ""]
    lines += [
             "## Throughput", "", "| what | count | seconds | rate | note |", "|---|---:|---:|---:|---|"]
    for c in results["ceilings"]:
        lines.append(f"| {c['name']} | {c['count']:,} | {c['seconds']:.2f} | {c['rate']:,} {c['unit']} | "
                     f"{c['note']} |")
    for t in results["end_to_end"]:
        lines.append(f"| end to end, {t['label']} | {t['stored']:,}/{t['readings']:,} | {t['seconds']:.2f} | "
                     f"{t['readings_per_s']:,} readings/s | {t['messages']:,} MQTT messages, published in "
                     f"{t['publish_seconds']:.2f} s; target {TARGET_READINGS_PER_S:,}/s: "
                     f"{'met' if t['readings_per_s'] >= TARGET_READINGS_PER_S else 'NOT met'} |")
    lines += ["", "## Where the time goes (CPU % of one core, over each end-to-end run)", ""]
    if results["end_to_end"]:
        names = list(results["end_to_end"][0]["cpu_pct"])
        lines += ["| run | " + " | ".join(names) + " | whole machine (of 200 %) |",
                  "|---|" + "---:|" * (len(names) + 1)]
        for t in results["end_to_end"]:
            lines.append(f"| {t['label']} | " + " | ".join(f"{t['cpu_pct'].get(n, 0):.0f}" for n in names)
                         + f" | {t['machine_busy_pct']:.0f} |")
    lines += peer_rows(results.get("peer"))
    lat = results.get("latency")
    if lat:
        lines += ["", "## Publish -> row latency (single readings)", "",
                  "| readings | rate | p50 ms | p99 ms | max ms | publish->ingest p50/p99 | ingest->row p50/p99 |",
                  "|---:|---:|---:|---:|---:|---:|---:|",
                  f"| {lat['stored']:,}/{lat['readings']:,} | {lat['rate']:.0f}/s | {lat['p50_ms']:.1f} | "
                  f"{lat['p99_ms']:.1f} | {lat['max_ms']:.1f} | {lat['to_ingest_p50_ms']:.1f} / "
                  f"{lat['to_ingest_p99_ms']:.1f} | {lat['ingest_to_row_p50_ms']:.1f} / "
                  f"{lat['ingest_to_row_p99_ms']:.1f} |"]
    lines += _alert_latency_rows(results.get("alert_latency") or [])
    lines += _landing_rows(results.get("landing"))
    if results["end_to_end"]:
        lines += ["", "## Resident memory at steady load (MB, median / max over the run)", "",
                  "| run | ingest | sink |", "|---|---:|---:|"]
        for t in results["end_to_end"]:
            rss = t["rss_mb"]
            lines.append(f"| {t['label']} | {rss['ingest']['median']:.0f} / {rss['ingest']['max']:.0f} | "
                         f"{rss['sink']['median']:.0f} / {rss['sink']['max']:.0f} |")
    eta = results.get("eta_accuracy")
    if eta:
        lines += ["", f"## ETA accuracy ({eta['trips']} simulated trips, bench/eta_accuracy.py)", "",
                  "| at % of trip | MAE h | mean remaining h | MAE % of remaining | median % | p90 % | "
                  "plan-only MAE h |", "|---|---:|---:|---:|---:|---:|---:|"]
        for share, row in eta["overall"].items():
            lines.append(f"| {share} | {row['mae_h']:.2f} | {row['mean_remaining_h']:.2f} | "
                         f"{row['mae_pct_of_remaining']:.2f} | {row['median_pct_of_remaining']:.2f} | "
                         f"{row['p90_pct_of_remaining']:.2f} | {row['plan_only_mae_h']:.2f} |")
        target = eta["target"]
        lines.append(f"\nTarget (MAE within {target['pct_of_remaining_at_50']} % of the remaining time at 50 %): "
                     f"{'met' if target['met'] else 'not met'}.")
    lines += ["", "Plots: throughput.png, cpu.png, latency.png.", ""]
    return "\n".join(lines)


def peer_rows(peer: dict[str, Any] | None) -> list[str]:
    """The peer side by side (bench/peer.py): both rates per shape, their ratio, each round with
    its CPU split, and the Telegraf settings used."""
    if not peer:
        return []
    telegraf = peer["telegraf"]
    lines = ["", f"## The peer: coldchain (ingest + sink) and Telegraf {telegraf['version']}, side by side "
             "(bench/peer.py)", "",
             f"{peer['when']}, {peer['machine']}. Same Mosquitto, same TimescaleDB, same publisher "
             f"(bench/loadgen.py, {peer['devices']} devices), one side running at a time, alternating, "
             f"{peer['rounds_per_side']} round(s) each of {peer['readings_per_round']:,} readings; readings/s from "
             "the first publish to the last row stored in each one's own table.", "",
             "| messages | coldchain readings/s | Telegraf readings/s | coldchain / Telegraf (best; mean) |",
             "|---|---:|---:|---:|"]
    for s in peer["summary"]:
        incomplete = "" if s["complete"] else " (a round did not store everything: see below)"
        lines.append(f"| {s['label']} | {_rates(s['coldchain'])} | {_rates(s['telegraf'])} | "
                     f"{_ratio(s['ratio_best'])}; {_ratio(s['ratio_mean'])}{incomplete} |")
    names = sorted({name for r in peer["rounds"] for name in r.get("cpu_pct", {})})
    lines += ["", "| round | stored | seconds | readings/s | published in s | "
              + " | ".join(f"{n} CPU %" for n in names) + " | rest of the machine | machine (of 200 %) |",
              "|---|---:|---:|---:|---:|" + "---:|" * (len(names) + 2)]
    for r in peer["rounds"]:
        if "error" in r:
            lines.append(f"| {r['side']}, {r['label']}, round {r['round']} | failed: {r['error']} |")
            continue
        lines.append(f"| {r['side']}, {r['label']}, round {r['round']} | {r['stored']:,}/{r['readings']:,} | "
                     f"{r['seconds']:.2f} | {r['readings_per_s']:,} | {r['publish_seconds']:.2f} | "
                     + " | ".join(f"{r['cpu_pct'].get(n, 0):.0f}" for n in names)
                     + f" | {max(0.0, r['machine_busy_pct'] - sum(r['cpu_pct'].values())):.0f}"
                     f" | {r['machine_busy_pct']:.0f} |")
    settings = ", ".join(f"`{k} = {v}`" for k, v in telegraf["settings"].items())
    build = f"built in {telegraf['build_seconds']:.0f} s" if telegraf["build_seconds"] else "cached build"
    lines += ["", f"Telegraf {telegraf['version']} from the Go module proxy (`go install -tags "
              f"\"{','.join(telegraf['build_tags'])}\"`, {build}); {telegraf['mqtt']}; {settings}. "
              "Its rendered telegraf.conf is in results.json (`peer.telegraf.config`). \"Rest of the machine\": "
              "CPU used by processes outside the groups measured (others' work on a shared machine); "
              "the server groups count all their clients, not only the bench's. Plot: peer.png."]
    return lines


def _rates(values: list[int]) -> str:
    return " and ".join(f"{v:,}" for v in values) or "-"


def _ratio(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


def _alert_latency_rows(phases: list[dict[str, Any]]) -> list[str]:
    if not phases:
        return []
    lines = ["", "## Alert latency: MQTT publish of the offending reading -> SMTP accepted (bench/alert_latency.py)",
             "", "| phase | alerts | p50 ms | p99 ms | max ms | first alert ms | both recipients p50/p99 ms | "
             f"target p99 <= {ALERT_P99_TARGET_MS:,} ms | background readings/s | publish->ingest p50/p99 | "
             "ingest->excursion event p50/p99 | excursion event->alert stored p50/p99 | "
             "alert stored->SMTP p50/p99 |",
             "|---|---:|---:|---:|---:|---:|---:|---|---:|---:|---:|---:|---:|"]
    for p in phases:
        met = "met" if p["received"] == p["alerts"] and p["p99_ms"] <= ALERT_P99_TARGET_MS else "NOT met"
        lines.append(f"| {p['label']} | {p['received']}/{p['alerts']} | {p['p50_ms']:.0f} | {p['p99_ms']:.0f} | "
                     f"{p['max_ms']:.0f} | {p['first_ms']:.0f} | {p['both_p50_ms']:.0f} / {p['both_p99_ms']:.0f} | "
                     f"{met} | {p['background_readings_per_s']:,.0f} | {_pair(p['to_ingest_ms'])} | "
                     f"{_pair(p.get('ingest_to_excursion_ms'))} | {_pair(p.get('excursion_to_alert_ms'))} | "
                     f"{_pair(p['alert_to_smtp_ms'])} |")
    return lines


def _pair(values: list[float] | None) -> str:
    """"-" for a figure that a run from before it was measured does not have."""
    return "-" if values is None else f"{values[0]:.0f} / {values[1]:.0f}"


def plots(results: dict[str, Any], folder: Path) -> list[Path]:
    made = [_throughput_plot(results, folder / "throughput.png")]
    if results["end_to_end"]:
        made.append(_cpu_plot(results, folder / "cpu.png"))
    if results.get("latency_samples_ms"):
        made.append(_latency_plot(results["latency_samples_ms"], folder / "latency.png"))
    if results.get("peer"):
        made.append(_peer_plot(results["peer"], folder / "peer.png"))
    return made


def _throughput_plot(results: dict[str, Any], path: Path) -> Path:
    labels = [c["name"].split(" (")[0] for c in results["ceilings"]]
    values = [c["rate"] for c in results["ceilings"]]
    labels += [f"end to end\n{t['label']}" for t in results["end_to_end"]]
    values += [t["readings_per_s"] for t in results["end_to_end"]]
    fig, ax = plt.subplots(figsize=(9, 4.5))
    bars = ax.barh(labels, values, color=["#8da0cb"] * len(results["ceilings"])
                   + ["#66c2a5"] * len(results["end_to_end"]))
    ax.axvline(TARGET_READINGS_PER_S, color="#d95f02", linestyle="--", label="target 10,000 readings/s")
    ax.bar_label(bars, labels=[f"{v:,.0f}" for v in values], padding=3, fontsize=8)
    ax.set_xlabel("per second")
    ax.set_title("Raw ceilings and end-to-end sustained throughput")
    ax.invert_yaxis()
    ax.legend(loc="lower right")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def _cpu_plot(results: dict[str, Any], path: Path) -> Path:
    runs = results["end_to_end"]
    names = list(runs[0]["cpu_pct"])
    fig, ax = plt.subplots(figsize=(9, 4.5))
    width = 0.8 / len(runs)
    for i, run in enumerate(runs):
        xs = [n + i * width for n in range(len(names))]
        ax.bar(xs, [run["cpu_pct"].get(name, 0) for name in names], width, label=run["label"])
    ax.set_xticks([n + width * (len(runs) - 1) / 2 for n in range(len(names))], names)
    ax.set_ylabel("CPU % of one core")
    ax.set_title("Where the time goes during the end-to-end runs (2 cores = 200 %)")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def _latency_plot(samples_ms: list[float], path: Path) -> Path:
    ordered = sorted(samples_ms)
    fig, ax = plt.subplots(figsize=(8, 4))
    ax.plot(ordered, [100 * (i + 1) / len(ordered) for i in range(len(ordered))])
    ax.set_xscale("log")
    ax.set_xlabel("publish -> row in TimescaleDB, ms (log)")
    ax.set_ylabel("% of readings")
    ax.set_title("Latency, cumulative")
    ax.grid(True, which="both", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def _landing_rows(landing: dict[str, Any] | None) -> list[str]:
    """The landing burst (bench/landing.py): seconds from the first upload, against 5 minutes."""
    if not landing:
        return []

    def seconds(key: str) -> str:
        value = landing.get(key)
        if value is None:
            return "not reached"
        return f"{value:,.0f} s ({'met' if value <= landing['target_s'] else 'NOT met'})"

    names = list(landing["cpu_pct"])
    return ["", f"## Landing burst: {landing['trackers']:,} trackers x {landing['hours']:g} h "
                f"({landing['readings']:,} readings in {landing['messages']:,} messages of {landing['batch']}), "
                f"every service running", "",
            f"Target: stored, scored and alerted within {landing['target_s']:.0f} s of the first upload.", "",
            "| published | all stored | all scored | last found-late alert | readings stored | stored/s |"
            " found-late alerts | emails about other shipments |",
            "|---:|---:|---:|---:|---:|---:|---:|---:|",
            f"| {landing['published_s']:,.0f} s | {seconds('stored_s')} | {seconds('scored_s')} | "
            f"{seconds('alerted_s')} | {landing['stored']:,} | {landing['stored_per_s']:,} | "
            f"{landing['alerts_received']}/{landing['alerts_expected']} | {landing['false_alarms']} |",
            *_landing_backlog(landing),
            "", "CPU % of one core over the burst, and peak resident memory (MB):", "",
            "| | " + " | ".join(names) + " | whole machine (of 200 %) |", "|---|" + "---:|" * (len(names) + 1),
            "| CPU % | " + " | ".join(f"{landing['cpu_pct'][n]}" for n in names)
            + f" | {landing['machine_busy_pct']:.0f} |",
            "| peak MB | " + " | ".join(f"{landing['rss_max_mb'][n]}" for n in names) + " | |"]


def _landing_backlog(landing: dict[str, Any]) -> list[str]:
    """What was left when the window ended (a run before these were measured has none)."""
    if landing.get("sink_behind_records", -1) < 0:
        return []
    return ["", f"When the window ended ({landing['elapsed_s']:,.0f} s after the first upload), readings records "
                f"(up to 100 readings each) still to read: sink {landing['sink_behind_records']:,}, "
                f"excursion processor {landing['excursions_behind_records']:,}."]


def _peer_plot(peer: dict[str, Any], path: Path) -> Path:
    """Each round's readings/s, coldchain beside Telegraf, per message shape."""
    summary = peer["summary"]
    fig, ax = plt.subplots(figsize=(8, 4))
    width = 0.38
    for i, (side, colour) in enumerate((("coldchain", "#66c2a5"), ("telegraf", "#8da0cb"))):
        for n, shape in enumerate(summary):
            rates = shape[side]
            xs = [n + (i - 0.5) * width + (k - (len(rates) - 1) / 2) * width / max(len(rates), 1)
                  for k in range(len(rates))]
            bars = ax.bar(xs, rates, width / max(len(rates), 1), color=colour,
                          label=side if n == 0 else None)
            ax.bar_label(bars, labels=[f"{v:,.0f}" for v in rates], padding=2, fontsize=7)
    ax.set_xticks(range(len(summary)), [f"{s['label']}\ncoldchain/Telegraf {_ratio(s['ratio_best'])}"
                                        for s in summary])
    ax.set_ylabel("readings/s, first publish -> last row")
    ax.set_title(f"coldchain and Telegraf {peer['telegraf']['version']}, each round ({peer['when'][:10]})")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
