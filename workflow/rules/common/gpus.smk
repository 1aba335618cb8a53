# Where jobs run: train.gpus resolved against the GPU pool, each GPU job's threads, the one console line.


_granted = workflow.global_resources.get("gpu")
GPU_RESOURCE = getattr(_granted, "value", _granted)  # --resources gpu=N, or None when not given
# A cluster run (Slurm), its main process and its jobs: no pool to share, the scheduler gives each job its
# GPUs. Read from the command line: workflow.local_exec is true while the Snakefile is read, whatever runs it.
CLUSTER = workflow.remote_exec or cluster_executor(sys.argv, os.environ) is not None
if CLUSTER and not workflow.remote_exec:
    # Snakemake caps each job's threads at --cores, a cluster job's too, and passes --cores on to the job:
    # the default workflow profile's `cores: all` is the submitting node's count, which cut a job's request
    # (gpu_job_threads) to a small login node's cores on a real Slurm. A cluster run has no such bound.
    workflow.resource_settings.cores = sys.maxsize
    workflow.global_resources["_cores"] = sys.maxsize
GPU_SETTING = config["train"]["gpus"]  # a number, or auto
config["train"]["gpus"], GPU_POOL = plan_gpus(
    config["train"], GPU_RESOURCE, cluster=CLUSTER, scheduled_job=workflow.remote_exec
)
check_gpu_budget(config["train"]["gpus"], GPU_RESOURCE, GPU_POOL)
if GPU_POOL and (GPU_RESOURCE is None or GPU_RESOURCE > len(GPU_POOL)):
    # Without --resources gpu=N (or with N above the pool) Snakemake would start more GPU jobs than there
    # are ids, and the surplus would wait in the lock pool; cap GPU use at the pool's size instead.
    workflow.global_resources["gpu"] = len(GPU_POOL)


def gpus_per_job():
    return config["train"]["gpus"]


# A cluster job's CPU request when train.cpu_threads is null: Snakemake's --cores there is the submitting
# node's (the default profile's `cores: all`), which says nothing of the node a job lands on.
CLUSTER_JOB_THREADS = 8


def gpu_job_threads(gpus):
    """CPU threads of a job on `gpus` GPUs: train.cpu_threads, else --cores shared evenly among the GPU
    jobs that run at once (four one-GPU trainings on a 4-GPU, 8-core box: 2 each), so Snakemake starts
    them side by side; under a cluster executor, CLUSTER_JOB_THREADS. A CPU job (gpus 0) takes every core,
    so a large model is held in memory once; the demo sets train.cpu_threads 1, as its small model trains
    faster two at a time (BENCHMARKS.md)."""
    if config["train"]["cpu_threads"]:
        return config["train"]["cpu_threads"]
    if CLUSTER:
        return CLUSTER_JOB_THREADS
    return max(1, workflow.cores // gpu_jobs_at_once(gpus))


def gpu_jobs_at_once(gpus):
    """How many jobs of `gpus` GPUs each run side by side on this box: the pool (or --resources gpu) over
    `gpus`; one for a CPU job."""
    return min(len(GPU_POOL), GPU_RESOURCE or len(GPU_POOL)) // gpus if gpus and GPU_POOL else 1


GPU_PLAN = gpu_plan_line(
    GPU_SETTING, gpus_per_job(), GPU_POOL, gpu_jobs_at_once(gpus_per_job()), gpu_job_threads(gpus_per_job())
)
if not workflow.remote_exec:  # once a run, not once a cluster job; on stderr, so `snakemake --dag | dot` works
    print(GPU_PLAN, file=sys.stderr)
