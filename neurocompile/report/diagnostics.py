"""Group compile diagnostics by kind, so 28 near-identical warnings read as a few lines.

One function for `neurocompile report` and `neurocompile simulate` (they must agree). A kind is
(level, pass, message shape): the message with its quoted names and numbers blanked out, so
"population 'm0_exc': refractory period of 5 step(s) ..." and the same for 'm1_inh' with 2 steps
are one kind, shown once with the subjects it is about.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Iterable

_QUOTED = re.compile(r"'[^']*'|\"[^\"]*\"")
_NUMBER = re.compile(r"[-+]?\d[\d,]*(?:\.\d+)?(?:[eE][-+]?\d+)?%?")
LEVEL_ORDER = {"error": 0, "warning": 1, "info": 2}


@dataclass
class DiagnosticGroup:
    level: str
    pass_name: str
    example: str                      # the first message of the kind, its subject prefix removed
    subjects: list[str] = field(default_factory=list)   # distinct subjects, in order of appearance
    count: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {"level": self.level, "pass": self.pass_name, "count": self.count,
                "subjects": self.subjects, "example": self.example}


def _shape(message: str) -> str:
    return _NUMBER.sub("#", _QUOTED.sub("'…'", message))


def _strip_subject(message: str, subject: str) -> str:
    """"population 'x': text" -> "text" when x is the subject (the subject is listed apart)."""
    if subject:
        m = re.match(r"^\w+ '" + re.escape(subject) + r"': ", message)
        if m:
            return message[m.end():]
    return message


def group_diagnostics(diagnostics: Iterable[dict[str, Any]], levels: tuple[str, ...] = ("error", "warning"),
                      ) -> list[DiagnosticGroup]:
    """Diagnostics (report.json dicts) of the given levels, grouped by kind; errors first, then by count."""
    groups: dict[tuple[str, str, str], DiagnosticGroup] = {}
    for d in diagnostics:
        if d["level"] not in levels:
            continue
        subject = d.get("subject") or ""
        text = _strip_subject(d["message"], subject)
        key = (d["level"], d["pass"], _shape(text))
        g = groups.get(key)
        if g is None:
            g = groups[key] = DiagnosticGroup(d["level"], d["pass"], text)
        g.count += 1
        if subject and subject not in g.subjects:
            g.subjects.append(subject)
    return sorted(groups.values(), key=lambda g: (LEVEL_ORDER.get(g.level, 3), -g.count))


def _cut(g: DiagnosticGroup, width: int) -> str:
    """The kind's head line, cut at a word to at most `width` characters (ending in " …")."""
    times = f" x{g.count}" if g.count > 1 else ""
    head = f"{g.level}{times} [{g.pass_name}] {g.example}"
    return head if len(head) <= width else head[:width - 1].rsplit(" ", 1)[0] + " …"


def group_lines(groups: list[DiagnosticGroup], max_subjects: int = 4, head_width: int | None = None) -> list[str]:
    """Plain text: per kind a head line (level, count, pass, the first message) and, indented, the
    subjects: the first is the one the message quotes, its numbers may differ for the others.

    head_width: the at-a-glance form: the message is cut at a word to fit one line of that width
    (`report --all` has it whole) and every subject is named, so no population that got a warning
    is hidden behind "and 4 more"."""
    lines = []
    heads = [_cut(g, head_width) for g in groups] if head_width is not None else []
    for i, g in enumerate(groups):
        if head_width is not None:
            head = heads[i]
            if heads.count(head) > 1:  # two kinds that read alike when cut: give them two lines
                head = _cut(g, 2 * head_width)
            lines.append(head)
            if g.subjects:
                lines.append(f"  {', '.join(g.subjects)}")
            continue
        times = f" x{g.count}" if g.count > 1 else ""
        lines.append(f"{g.level}{times} [{g.pass_name}] {g.example}")
        if not g.subjects:
            continue
        if len(g.subjects) == 1:
            lines.append(f"  about {g.subjects[0]}")
            continue
        rest = g.subjects[1:max_subjects]
        more = f" and {len(g.subjects) - 1 - len(rest)} more" if len(g.subjects) - 1 > len(rest) else ""
        lines.append(f"  as for {g.subjects[0]}; also {', '.join(rest)}{more}")
    return lines
