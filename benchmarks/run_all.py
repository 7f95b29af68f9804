"""Run every benchmark of the repository and rewrite BENCHMARKS.md.

Benchmarks are scripts that print one JSON document: ``benchmarks/*.py`` (the core's) and
``packages/*/benchmarks/*.py`` (each plugin's), discovered by globbing so nothing lists them
by hand. The report records the machine, the versions, the date, every figure, and the command
that produced it. ``--only SUBSTRING`` runs a subset; ``--quick`` passes ``--quick`` to the
scripts that accept it.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import subprocess
import sys
from importlib import metadata
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent


def _scripts() -> list[Path]:
    found = [p for p in sorted((ROOT / "benchmarks").glob("*.py")) if p.name != "run_all.py"]
    found += sorted(ROOT.glob("packages/*/benchmarks/*.py"))
    return [p for p in found if not p.name.startswith("_")]


def _versions() -> dict[str, str]:
    out = {"python": platform.python_version()}
    for dist in ("sturdydb", "psycopg", "psycopg-binary", "mysql-connector-python", "pluggy", "boto3", "moto"):
        try:
            out[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            pass
    for binary, args in (("postgres", ["/usr/lib/postgresql/15/bin/postgres", "--version"]),
                         ("mariadbd", ["mariadbd", "--version"])):
        try:
            out[binary] = subprocess.run(args, capture_output=True, text=True, timeout=10).stdout.strip()
        except (OSError, subprocess.SubprocessError):
            pass
    return out


def _machine() -> str:
    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = ""
    try:
        kb = int(Path("/proc/meminfo").read_text().split()[1])
        mem = f", {kb / 1024 / 1024:.0f} GiB"
    except (OSError, ValueError, IndexError):
        pass
    return f"{platform.system()} {platform.release()}, {cpu}, {os.cpu_count()} cores{mem}"


def _parse(stdout: str) -> Any:
    text = stdout.strip()
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        start = text.find("\n{")
        return json.loads(text[start + 1:] if start >= 0 else text[text.index("{"):])


def _render(value: Any, depth: int = 0) -> list[str]:
    """Nested results as Markdown: dicts of numbers become tables, deeper dicts headings."""
    lines: list[str] = []
    if isinstance(value, dict):
        scalars = {k: v for k, v in value.items() if not isinstance(v, (dict, list))}
        nested = {k: v for k, v in value.items() if isinstance(v, (dict, list))}
        rows = {k: v for k, v in nested.items() if isinstance(v, dict)
                and all(not isinstance(x, (dict, list)) for x in v.values())}
        for key, val in scalars.items():
            lines.append(f"- **{key}**: {val}")
        if rows:
            columns: list[str] = []
            for row in rows.values():
                for col in row:
                    if col not in columns:
                        columns.append(col)
            lines.append("")
            lines.append("| | " + " | ".join(columns) + " |")
            lines.append("|---|" + "---|" * len(columns))
            for name, row in rows.items():
                lines.append(f"| {name} | " + " | ".join(str(row.get(c, "")) for c in columns) + " |")
            lines.append("")
        for key, val in nested.items():
            if key in rows:
                continue
            lines.append("")
            lines.append(f"{'#' * min(6, depth + 4)} {key}")
            lines.extend(_render(val, depth + 1))
    elif isinstance(value, list):
        if value and all(isinstance(v, dict) for v in value):
            columns = []
            for row in value:
                for col in row:
                    if col not in columns:
                        columns.append(col)
            lines.append("")
            lines.append("| " + " | ".join(columns) + " |")
            lines.append("|" + "---|" * len(columns))
            for row in value:
                lines.append("| " + " | ".join(str(row.get(c, "")) for c in columns) + " |")
            lines.append("")
        else:
            lines.append(f"- {value}")
    else:
        lines.append(str(value))
    return lines


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", default="", help="run only scripts whose path contains this")
    parser.add_argument("--quick", action="store_true", help="fewer rounds, for a smoke run")
    parser.add_argument("--output", default=str(ROOT / "BENCHMARKS.md"))
    args = parser.parse_args()
    sections: list[str] = []
    failures = 0
    for script in _scripts():
        rel = script.relative_to(ROOT)
        if args.only and args.only not in str(rel):
            continue
        command = [sys.executable, str(script)]
        helptext = subprocess.run([*command, "--help"], capture_output=True, text=True, timeout=60).stdout
        if args.quick and "--quick" in helptext:
            command.append("--quick")
        shown = "python " + " ".join([str(rel), *command[2:]])
        print(f"== {shown}", flush=True)
        proc = subprocess.run(command, capture_output=True, text=True, timeout=3600, cwd=ROOT)
        note: list[str] = []
        if proc.returncode != 0:
            failures += 1
            print(proc.stderr[-3000:], file=sys.stderr)
            try:
                # A check that failed (the fault soak) still reports its figures: keep them.
                data = _parse(proc.stdout)
            except (json.JSONDecodeError, ValueError):
                sections.append(f"## {rel}\n\nFAILED (exit {proc.returncode}) running `{shown}`:\n\n"
                                f"```\n{proc.stderr[-3000:]}\n```\n")
                continue
            note = [f"**FAILED** (exit {proc.returncode}): the script's own checks did not pass.", ""]
        else:
            data = _parse(proc.stdout)
        title = data.pop("title", str(rel)) if isinstance(data, dict) else str(rel)
        data.pop("command", None) if isinstance(data, dict) else None
        sections.append("\n".join([f"## {title}", "", f"Command: `{shown}` (inside `nox -s bench`)", "",
                                   *note, *_render(data)]) + "\n")
    header = [
        "# Benchmarks",
        "",
        "Generated by `nox -s bench` (`benchmarks/run_all.py`); do not edit by hand.",
        "",
        f"- Date: {dt.datetime.now(dt.timezone.utc).strftime('%Y-%m-%d %H:%M UTC')}",
        f"- Machine: {_machine()}",
        "- Versions: " + ", ".join(f"{k} {v}" for k, v in _versions().items()),
        "",
    ]
    Path(args.output).write_text("\n".join(header) + "\n" + "\n".join(sections))
    print(f"wrote {args.output}")
    return 1 if failures else 0


if __name__ == "__main__":
    raise SystemExit(main())
