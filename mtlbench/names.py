"""Suite instance names such as ``synthetic[p=0.5,n_train=2000]`` (torch-free, so reports load fast)."""
from __future__ import annotations

import re
from typing import Any

from .errors import MtlbenchError

_INSTANCE = re.compile(r"^(?P<family>[A-Za-z_][\w-]*)(?:\[(?P<params>[^\]]*)\])?$")


def _parse_value(v: str) -> Any:
    for cast in (int, float):
        try:
            return cast(v)
        except ValueError:
            pass
    return v


def parse_instance(name: str) -> tuple[str, dict[str, Any]]:
    """``"synthetic[p=0.5,n=2000]"`` → ``("synthetic", {"p": 0.5, "n": 2000})``."""
    m = _INSTANCE.match(name.strip())
    if not m:
        raise MtlbenchError(f"cannot read suite name {name!r}; write it as NAME or NAME[key=value,...].")
    params: dict[str, Any] = {}
    if m["params"]:
        for part in m["params"].split(","):
            if "=" not in part:
                raise MtlbenchError(f"cannot read suite parameter {part!r} in {name!r}; write key=value.")
            k, v = part.split("=", 1)
            params[k.strip()] = _parse_value(v.strip())
    return m["family"], params


def format_instance(family: str, params: dict[str, Any]) -> str:
    if not params:
        return family
    return f"{family}[{','.join(f'{k}={_fmt(v)}' for k, v in params.items())}]"


def _fmt(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:g}"
    return str(v)


def suite_slug(name: str) -> str:
    """The one file-name-safe form of a suite instance name, used for chart files and study files alike:
    ``synthetic[p=0.5]`` → ``synthetic_p_0.5`` (every run of characters other than letters, digits and '.' → '_')."""
    return re.sub(r"[^A-Za-z0-9.]+", "_", name).strip("_")
