"""The table `python -m bench` prints."""

from __future__ import annotations

from collections.abc import Sequence

from bench.harness import Figure, Outcome


def _number(value: float | None, unit: str) -> str:
    if value is None:
        return "-"
    if unit == "s" and abs(value) < 1:
        return f"{value * 1000:.1f} ms"
    if unit == "ms" and abs(value) < 10:
        return f"{value:.2f} ms"
    if abs(value) >= 1000:
        return f"{value:,.0f} {unit}".rstrip()
    return f"{value:.3g} {unit}".rstrip()


def _met(figure: Figure) -> str:
    if figure.met is None:
        return "-"
    return "yes" if figure.met else "NO"


def table(outcomes: Sequence[tuple[str, Outcome]]) -> str:
    """figure | measured | baseline | target | met?, one row per figure, notes underneath."""
    header = ("figure", "measured", "baseline", "target", "met?")
    rows: list[tuple[str, ...]] = []
    notes: list[str] = []
    for name, outcome in outcomes:
        for figure in outcome.figures:
            rows.append(
                (
                    f"{name}: {figure.name}",
                    _number(figure.measured, figure.unit),
                    _number(figure.baseline, figure.unit),
                    figure.target,
                    _met(figure),
                )
            )
            if figure.note:
                notes.append(f"  [{name}: {figure.name}] {figure.note}")
    widths = [max(len(row[i]) for row in (header, *rows)) for i in range(len(header))]
    lines = [" | ".join(cell.ljust(width) for cell, width in zip(header, widths, strict=True))]
    lines.append("-+-".join("-" * width for width in widths))
    lines += [
        " | ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True))
        for row in rows
    ]
    if notes:
        lines += ["", "notes:", *notes]
    return "\n".join(lines)
