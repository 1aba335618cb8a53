import json
import os
import re
import sys
from pathlib import Path

from snakemake.utils import min_version

# The rules use this checkout's library, as its jobs do (script: and shell: jobs run from workflow/scripts):
# an editable install of another clone must never mix two versions in one run.
sys.path.insert(0, str(Path(workflow.basedir) / "workflow" / "scripts"))

from focalcls.config.outside_adapters import adapter_files, adapter_folder
from focalcls.config.checks import (
    check_against_labels,
    check_config,
    check_gpu_budget,
    check_writable,
    configured_ensembles,
    preset_names,
    read_last_run,
)
from focalcls.config.loading import complete, complete_preset
from focalcls.config.raw_yaml import check_config_file
from focalcls.config.runs import (
    BASELINE_FILES,
    audit_fold_files,
    audit_run,
    ENSEMBLE_FILES,
    ENSEMBLES_FOLDER,
    all_paths,
    run_files,
    run_name,
)
from focalcls.devices.executor import cluster_executor
from focalcls.devices.gpu_pool import gpu_plan_line, plan_gpus
from focalcls.train.tracking import ENV as TRACKING_ENV
from focalcls.train.tracking import check_packages, tracking_settings

min_version("9.0")


# The table of contents: each part in its own file, in the order they run.
include: "common/config.smk"  # the config checked and completed; SEEDS, PRESETS, TUNE
include: "common/params.smk"  # config values as params and command lines
include: "common/gpus.smk"  # train.gpus against the GPU pool; threads a job
include: "common/runs.smk"  # runs named; the search's points; each rule's files by run
include: "common/labels.smk"  # the last run's labels against this config
