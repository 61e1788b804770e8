"""What a step found: checks with their figures, and the table ``kstock chaos`` prints."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Check:
    """One assertion of a step. ``budget`` marks a wall-clock target of the issue (``within 5 s``):
    the command asserts it, the pytest wrapper does not (a busy CI machine is no measurement)."""

    name: str
    passed: bool
    figure: str
    budget: bool = False


@dataclass
class StepResult:
    number: int
    title: str
    checks: list[Check] = field(default_factory=list)
    error: str | None = None  # the step could not run to its end (an unexpected exception, a dead stack)

    def check(self, name: str, passed: bool, figure: str, *, budget: bool = False) -> bool:
        self.checks.append(Check(name, bool(passed), figure, budget))
        return bool(passed)

    @property
    def passed(self) -> bool:
        return self.error is None and all(c.passed for c in self.checks)

    def behaviour_failures(self) -> list[Check]:
        """Failed checks that are not timing budgets: what the pytest wrapper asserts."""
        return [c for c in self.checks if not c.passed and not c.budget]

    def explain(self) -> str:
        lines = [f"step {self.number} ({self.title}):"]
        lines += [f"  {'ok ' if c.passed else 'FAIL'} {c.name}: {c.figure}" for c in self.checks]
        if self.error:
            lines.append(f"  ERROR {self.error}")
        return "\n".join(lines)


def seconds(value: float | None) -> str:
    return "never" if value is None else f"{value:.1f} s"


def render(results: list[StepResult]) -> str:
    """The steps, one row per check (figure and PASS/FAIL), then each step's verdict."""
    rows: list[tuple[str, str, str, str]] = []
    for result in results:
        label = f"{result.number}. {result.title}"
        for check in result.checks:
            rows.append(
                (label, check.name + (" [budget]" if check.budget else ""), check.figure, _verdict(check.passed))
            )
            label = ""
        if result.error:
            rows.append((label, "ran to its end", result.error[:160], "FAIL"))
        rows.append(("", "=> step", "", _verdict(result.passed)))
    header = ("step", "check", "figure", "result")
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(3)]

    def line(row: tuple[str, str, str, str]) -> str:
        return "  ".join(f"{cell:<{width}}" for cell, width in zip(row[:3], widths, strict=True)) + f"  {row[3]}"

    return "\n".join([line(header), "-" * (sum(widths) + 12), *map(line, rows)])


def _verdict(passed: bool) -> str:
    return "PASS" if passed else "FAIL"
