"""snakemake check_env, the first-run checks: packages against the pins, the GPU plan, GPUs against train.gpus and
--resources gpu, bf16 on a CPU, free disk, the model folder and its pad token. Prints a table; exits 1
with the list of fixes when a check fails."""

import sys
from pathlib import Path

from focalcls.core import cli
from focalcls.env import check_env

REPO = Path(__file__).resolve().parents[2]


def gpu_listing() -> tuple[list[dict], str | None]:
    try:
        import torch
    except ImportError:  # the package table already says torch is missing and how to install it
        return [], None

    gpus = []
    if torch.cuda.is_available():
        for i in range(torch.cuda.device_count()):
            props = torch.cuda.get_device_properties(i)
            gpus.append({"name": props.name, "memory_gb": props.total_memory / 2**30, "bf16": props.major >= 8})
    return gpus, torch.version.cuda


def cpu_bf16() -> bool | None:
    """Whether this CPU computes in bf16 natively; None without torch (the package table says so)."""
    from focalcls.devices.precision import cpu_runs_bf16

    try:
        return cpu_runs_bf16()
    except ImportError:  # torch is imported inside
        return None


def main(args) -> int:
    requirements = REPO / "envs" / "requirements.txt"
    model, train = args.model, args.train
    gpus, cuda_build = gpu_listing()
    findings = [
        *check_env.check_packages(check_env.pinned_versions(requirements), str(requirements.relative_to(REPO))),
        check_env.Finding("GPU plan", True, args.gpu_plan),  # the line the workflow printed on the console
        *check_env.check_gpus(gpus, cuda_build, train["gpus"], args.gpu_resource, train["precision"]),
        *check_env.check_cpu_precision(train["gpus"], train["precision"], cpu_bf16()),
        check_env.check_disk(Path(args.results)),
        *check_env.model_folder_findings(model["checkpoint"], demo_folder=Path(args.demo_model)),
    ]
    folder = args.demo_model if model["checkpoint"] == "demo" else model["checkpoint"]
    if (Path(folder) / "config.json").exists():
        findings.append(check_env.check_pad_token(folder, model["trust_remote_code"]))
    print(check_env.table(findings))
    todo = check_env.fixes(findings)
    if todo:
        print("\nTo fix:\n" + "\n".join(f"- {line}" for line in todo))
        return 1
    print("\nEverything checked is ready.")
    return 0


def build_parser():
    p = cli.parser(__doc__, required=("results", "demo-model"), sections=("model", "train"))
    p.add_argument("--gpu-resource", type=int, default=None, help="Snakemake's --resources gpu, when given")
    p.add_argument("--gpu-plan", required=True, help="what train.gpus came to: the workflow's console line")
    return p


if __name__ == "__main__":
    sys.exit(cli.run(main, build_parser()))
