#!/usr/bin/env bash
# Wheels for a GPU machine that has torch, transformers, peft, accelerate, pandas and scikit-learn but no
# package index: what bench/speed/gpu_check.sh imports beyond those (the config's schema checks through
# snakemake's validate, and openpyxl, which the tables module loads), at the versions installed here.
# Run here, where pip reaches an index; bench/speed/gpu_check.sh installs .whl/ when it finds it.
#   bash bench/speed/device_wheels.sh      # for Python 3.12 on x86-64 Linux; PYTHON_VERSION=3.11 for another
set -euo pipefail
cd "$(dirname "$0")/../.."  # the repository root
PACKAGES=(
  openpyxl et-xmlfile
  snakemake snakemake-interface-common snakemake-interface-logger-plugins snakemake-interface-storage-plugins
  jsonschema jsonschema-specifications referencing rpds-py jsonpointer rfc3339-validator dpath tenacity yte
)
PLATFORMS=(manylinux_2_28_x86_64 manylinux_2_27_x86_64 manylinux_2_17_x86_64 manylinux2014_x86_64 manylinux1_x86_64)
rm -rf .whl
for name in "${PACKAGES[@]}"; do
  version=$(python -c "import importlib.metadata as m, sys; print(m.version(sys.argv[1]))" "$name")
  python -m pip download -q --no-deps --only-binary=:all: --python-version "${PYTHON_VERSION:-3.12}" \
    --implementation cp ${PLATFORMS[@]/#/--platform } -d .whl "$name==$version"
done
ls .whl
