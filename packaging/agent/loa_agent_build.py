"""A PEP 517 build backend, standard library only, for the `loa-agent` wheel (packaging/agent/pyproject.toml).

Why not setuptools: the agent's sources live at the repository root (broadcaster/agent, broadcaster/protocol),
outside this folder, next to the station's code that must stay out of the wheel; and `python3 dev.py
agent-wheel` must work offline on a machine with only Python. A pure-Python wheel is a zip with four metadata
files, so this writes it directly: reproducible (fixed timestamps, sorted entries), py3-none-any.
"""
from __future__ import annotations

import base64
import hashlib
import io
import os
import re
import tomllib
import zipfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
EPOCH = (1980, 1, 1, 0, 0, 0)  # zip's earliest date: the same sources give the same bytes


def _config() -> dict:
    return tomllib.loads((HERE / "pyproject.toml").read_text("utf-8"))


def _version(root: Path, source: str) -> str:
    match = re.search(r'^AGENT_VERSION\s*=\s*"([^"]+)"', (root / source).read_text("utf-8"), re.M)
    if not match:
        raise RuntimeError(f"AGENT_VERSION not found in {source}")
    return match.group(1)


def _normalized(name: str) -> str:
    return re.sub(r"[-_.]+", "_", name).lower()


def _requirement(req: str, extra: str | None = None) -> str:
    if extra is None:
        return req
    marker = f'extra == "{extra}"'
    return f"{req} and {marker}" if ";" in req else f"{req}; {marker}"


def _metadata(project: dict, version: str) -> str:
    lines = ["Metadata-Version: 2.1", f"Name: {project['name']}", f"Version: {version}",
             f"Summary: {project.get('description', '')}", f"Requires-Python: {project['requires-python']}",
             f"License: {project.get('license', '')}"]
    lines += [f"Requires-Dist: {_requirement(r)}" for r in project.get("dependencies", [])]
    for extra, reqs in project.get("optional-dependencies", {}).items():
        lines.append(f"Provides-Extra: {extra}")
        lines += [f"Requires-Dist: {_requirement(r, extra)}" for r in reqs]
    return "\n".join(lines) + "\n"


def _sources(root: Path, packages: list[str]) -> list[tuple[str, bytes]]:
    """Every .py file of each listed package (not its subpackages unless listed), and only the __init__.py of
    their parents: explicit, so no station module or new server-side subpackage slips into the agent's wheel."""
    paths: set[Path] = set()
    for package in packages:
        parts = package.split(".")
        for depth in range(1, len(parts)):
            paths.add(root.joinpath(*parts[:depth], "__init__.py"))
        folder = root.joinpath(*parts)
        if not (folder / "__init__.py").is_file():
            raise RuntimeError(f"{package} is not a package under {root}")
        paths.update(folder.glob("*.py"))
    return [(p.relative_to(root).as_posix(), p.read_bytes()) for p in sorted(paths)]


def _record_line(name: str, data: bytes) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"{name},sha256={digest},{len(data)}"


def wheel_files(config: dict | None = None) -> tuple[str, list[tuple[str, bytes]]]:
    """The wheel's file name and its entries in order (sources, then the .dist-info files, RECORD last)."""
    config = config or _config()
    project, build = config["project"], config["tool"]["loa-agent-build"]
    root = (HERE / build["source-root"]).resolve()
    version = _version(root, build["version-from"])
    dist = f"{_normalized(project['name'])}-{version}"
    info = f"{dist}.dist-info"
    entries = _sources(root, build["packages"])
    entries.append((f"{info}/METADATA", _metadata(project, version).encode()))
    entries.append((f"{info}/WHEEL", b"Wheel-Version: 1.0\nGenerator: loa_agent_build\nRoot-Is-Purelib: true\n"
                                     b"Tag: py3-none-any\n"))
    scripts = project.get("scripts", {})
    if scripts:
        text = "[console_scripts]\n" + "".join(f"{k} = {v}\n" for k, v in scripts.items())
        entries.append((f"{info}/entry_points.txt", text.encode()))
    record = "".join(_record_line(n, d) + "\n" for n, d in entries) + f"{info}/RECORD,,\n"
    entries.append((f"{info}/RECORD", record.encode()))
    return f"{dist}-py3-none-any.whl", entries


# -- PEP 517 hooks ------------------------------------------------------------------------------------------
def get_requires_for_build_wheel(config_settings: dict | None = None) -> list[str]:
    return []


def build_wheel(wheel_directory: str, config_settings: dict | None = None,
                metadata_directory: str | None = None) -> str:
    name, entries = wheel_files()
    out = Path(wheel_directory)
    out.mkdir(parents=True, exist_ok=True)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for entry, data in entries:
            info = zipfile.ZipInfo(entry, EPOCH)
            info.external_attr = 0o644 << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(info, data)
    # Written whole then renamed: an interrupted build never leaves a truncated wheel behind.
    tmp = out / f".{name}.tmp"
    tmp.write_bytes(buf.getvalue())
    os.replace(tmp, out / name)
    return name
