"""What the benchmarks record about the machine they ran on."""

from __future__ import annotations

import platform

__all__ = ["cpu_name"]


def cpu_name() -> str:
    """The CPU's model name, from /proc/cpuinfo where there is one."""
    try:
        with open("/proc/cpuinfo", encoding="ascii", errors="replace") as cpuinfo:
            name = next((line.split(":", 1)[1].strip() for line in cpuinfo
                         if line.startswith("model name")), "")
    except OSError:
        name = ""
    return name or platform.processor() or "an unknown CPU"
