import os
import socket

import pytest

from focalcls.core.errors import UserError
from focalcls.devices.gpu_pool import ALLOCATED_VARIABLE, POOL_VARIABLE, acquire_gpus, free_port, gpu_pool, reserve_port

ONE, FOUR = ["0"], ["0", "1", "2", "3"]


def test_two_jobs_never_share_ids_and_ids_come_back(tmp_path, monkeypatch):
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    with acquire_gpus(2, pool=FOUR, pool_dir=tmp_path) as first:
        with acquire_gpus(2, pool=FOUR, pool_dir=tmp_path) as second:
            assert len(first) == len(second) == 2 and not set(first) & set(second)
            with pytest.raises(UserError, match="no 1 free GPU"):
                with acquire_gpus(1, pool=FOUR, pool_dir=tmp_path, timeout_s=0):
                    pass
    with acquire_gpus(4, pool=FOUR, pool_dir=tmp_path) as everything:
        assert everything == ["0", "1", "2", "3"]


def test_ids_are_released_when_the_job_fails(tmp_path, monkeypatch):
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    with pytest.raises(RuntimeError):
        with acquire_gpus(1, pool=ONE, pool_dir=tmp_path):
            raise RuntimeError("training crashed")
    with acquire_gpus(1, pool=ONE, pool_dir=tmp_path, timeout_s=0) as ids:
        assert ids == ["0"]


def test_a_schedulers_allocation_is_the_jobs_own(tmp_path, monkeypatch):
    """In a job Slurm started, CUDA_VISIBLE_DEVICES is that job's: taken as it is, nothing locked."""
    monkeypatch.setenv(ALLOCATED_VARIABLE, "1")
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "3,5")
    with acquire_gpus(2, pool_dir=tmp_path) as ids, acquire_gpus(2, pool_dir=tmp_path) as again:
        assert ids == again == ["3", "5"]
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "GPU-8a1f,GPU-77c2")
    with acquire_gpus(1, pool_dir=tmp_path) as ids:
        assert ids == ["GPU-8a1f"]
    with pytest.raises(UserError, match="the scheduler gave this job 2"):
        with acquire_gpus(3, pool_dir=tmp_path):
            pass


@pytest.mark.parametrize("variable", ["CUDA_VISIBLE_DEVICES", POOL_VARIABLE])
def test_exported_ids_or_train_gpu_ids_are_a_pool_that_parallel_jobs_share(tmp_path, monkeypatch, variable):
    """CUDA_VISIBLE_DEVICES=2,3 exported by a user (or train.gpu_ids: [2, 3]) outside a scheduler's job: two
    jobs side by side get one distinct id each, and a third waits for one of them."""
    monkeypatch.delenv(ALLOCATED_VARIABLE, raising=False)
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    monkeypatch.setenv(variable, "2,3")
    with acquire_gpus(1, pool_dir=tmp_path) as first, acquire_gpus(1, pool_dir=tmp_path) as second:
        assert sorted(first + second) == ["2", "3"]
        with pytest.raises(UserError, match="no 1 free GPU"):
            with acquire_gpus(1, pool_dir=tmp_path, timeout_s=0):
                pass
    with pytest.raises(UserError, match="the GPU pool has 2 id"):
        with acquire_gpus(4, pool_dir=tmp_path):
            pass


def test_train_gpu_ids_win_over_exported_ids(monkeypatch):
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "0,1,2,3")
    assert gpu_pool([1, 3]) == ["1", "3"]
    assert gpu_pool() == ["0", "1", "2", "3"]


def test_free_port_is_bindable():
    port = free_port()
    with socket.socket() as s:
        s.bind(("127.0.0.1", port))


def _hold_ids_and_port(pool_dir, out, barrier):
    """One job: reserve 2 of 4 fake GPUs and a port, and hold them while the other job does the same."""
    import json

    with acquire_gpus(2, pool=FOUR, pool_dir=pool_dir, timeout_s=0) as ids, reserve_port(pool_dir=pool_dir) as port:
        barrier.wait(timeout=60)
        out.write_text(json.dumps({"ids": ids, "port": port}))
        barrier.wait(timeout=60)


def test_two_jobs_started_at_once_never_share_ids_or_ports(tmp_path, monkeypatch):
    import json
    import multiprocessing

    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(2)
    jobs = [
        context.Process(target=_hold_ids_and_port, args=(tmp_path, tmp_path / f"job{i}.json", barrier))
        for i in range(2)
    ]
    for job in jobs:
        job.start()
    for job in jobs:
        job.join(timeout=120)
    assert [job.exitcode for job in jobs] == [0, 0]
    first, second = (json.loads((tmp_path / f"job{i}.json").read_text()) for i in range(2))
    assert not set(first["ids"]) & set(second["ids"]) and first["port"] != second["port"]


def test_a_held_port_is_not_handed_out_again(tmp_path, monkeypatch):
    ports = iter([5001, 5001, 5002])
    monkeypatch.setattr("focalcls.devices.gpu_pool.free_port", lambda: next(ports))
    with reserve_port(pool_dir=tmp_path) as first, reserve_port(pool_dir=tmp_path) as second:
        assert (first, second) == (5001, 5002)


def _hold_forever(pool_dir, ready):
    with acquire_gpus(1, pool=ONE, pool_dir=pool_dir, timeout_s=0), reserve_port(pool_dir=pool_dir):
        ready.set()
        import time

        time.sleep(600)


def test_a_killed_job_gives_its_gpu_back(tmp_path, monkeypatch):
    """flock locks die with their process, so even SIGKILL (no cleanup code runs) frees the ids."""
    import multiprocessing

    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    context = multiprocessing.get_context("spawn")
    ready = context.Event()
    job = context.Process(target=_hold_forever, args=(tmp_path, ready))
    job.start()
    assert ready.wait(timeout=60)
    with pytest.raises(UserError, match="no 1 free GPU"):
        with acquire_gpus(1, pool=ONE, pool_dir=tmp_path, timeout_s=0):
            pass
    job.kill()
    job.join(timeout=60)
    with acquire_gpus(1, pool=ONE, pool_dir=tmp_path, timeout_s=0) as ids:
        assert ids == ["0"]


def test_multi_node_options_reach_accelerate_and_win(monkeypatch):
    """A dry run of accelerate's own parser over the command a multi-node training job would run."""
    from accelerate.commands.launch import launch_command_parser

    from focalcls.devices.launch import launch_command

    monkeypatch.setenv("SLURM_NODEID", "1")
    monkeypatch.setenv("MASTER_ADDR", "10.0.0.7")
    extra = [
        "--num_machines",
        "2",
        "--num_processes",
        "8",
        "--machine_rank",
        "$SLURM_NODEID",
        "--main_process_ip",
        "$MASTER_ADDR",
        "--main_process_port",
        "29555",
    ]
    cmd = launch_command("train.py", ["--preset", "moderate"], processes=4, port=40001, extra=extra)
    assert cmd[1:3] == ["-m", "accelerate.commands.launch"] and cmd[-3:] == ["train.py", "--preset", "moderate"]
    parsed = launch_command_parser().parse_args(cmd[3:])
    assert (parsed.num_machines, parsed.num_processes, parsed.machine_rank) == (2, 8, 1)
    assert (parsed.main_process_ip, parsed.main_process_port) == ("10.0.0.7", 29555)
    assert parsed.training_script == "train.py" and parsed.training_script_args == ["--preset", "moderate"]
    single = launch_command_parser().parse_args(launch_command("t.py", [], processes=2, port=40001)[3:])
    assert (single.num_machines, single.num_processes, single.main_process_port) == (1, 2, 40001)
    # accelerate refuses --multi_gpu for one process on one machine
    assert "--multi_gpu" not in launch_command("t.py", [], processes=1, port=40001, extra=["--mixed_precision", "bf16"])


def test_a_lock_folder_that_is_a_link_is_refused_and_its_target_untouched(tmp_path):
    """Another user could pre-create /tmp/focalcls-gpu-pool as a link to a folder of the victim's."""
    target = tmp_path / "victims-folder"
    target.mkdir(mode=0o700)
    link = tmp_path / "pool"
    link.symlink_to(target)
    with pytest.raises(UserError, match="is a link or not a folder"):
        with acquire_gpus(1, pool=ONE, pool_dir=link):
            pass
    with pytest.raises(UserError, match="is a link or not a folder"):
        with reserve_port(pool_dir=link):
            pass
    assert target.stat().st_mode & 0o777 == 0o700 and not any(target.iterdir())


def test_a_new_lock_folder_is_shared_like_tmp(tmp_path):
    with acquire_gpus(1, pool=ONE, pool_dir=tmp_path / "pool"):
        pass
    assert (tmp_path / "pool").stat().st_mode & 0o7777 == 0o1777


@pytest.mark.skipif(os.getuid() != 0, reason="needs root to give a folder to another user")
def test_a_world_writable_lock_folder_of_another_user_is_refused(tmp_path):
    pool = tmp_path / "pool"
    pool.mkdir()
    os.chown(pool, 12345, 12345)
    pool.chmod(0o777)  # anyone may write and, without the sticky bit, delete others' lock files
    with pytest.raises(UserError, match="belongs to another user"):
        with acquire_gpus(1, pool=ONE, pool_dir=pool):
            pass
    pool.chmod(0o1777)  # like /tmp: accepted
    with acquire_gpus(1, pool=ONE, pool_dir=pool) as ids:
        assert ids == ["0"]


def test_two_slurm_allocations_on_one_node_lock_their_own_gpu_0(tmp_path, monkeypatch):
    """Each allocation sees its GPUs as 0, 1, ...: the same number is not the same GPU across allocations."""
    monkeypatch.delenv(ALLOCATED_VARIABLE, raising=False)
    monkeypatch.setenv("SLURM_JOB_ID", "101")
    with acquire_gpus(1, pool=ONE, pool_dir=tmp_path, timeout_s=0) as first:
        monkeypatch.setenv("SLURM_JOB_ID", "102")
        with acquire_gpus(1, pool=ONE, pool_dir=tmp_path, timeout_s=0) as second:
            assert first == second == ["0"]
        monkeypatch.setenv("SLURM_JOB_ID", "101")
        with pytest.raises(UserError, match="no 1 free GPU"):  # within one allocation, still exclusive
            with acquire_gpus(1, pool=ONE, pool_dir=tmp_path, timeout_s=0):
                pass


def test_the_tests_lock_their_fake_ids_in_a_pool_of_their_own():
    # conftest.py: a real box's trainings lock ids "0" to "3" in /tmp/focalcls-gpu-pool; the tests must not.
    from focalcls.devices.gpu_pool import DEFAULT_POOL_DIR

    assert DEFAULT_POOL_DIR.is_dir() and DEFAULT_POOL_DIR.name.startswith("focalcls-test-gpu-pool-")
    assert os.environ["FOCALCLS_GPU_POOL"] == str(DEFAULT_POOL_DIR)
    # one pool a run, made by the run itself: an xdist worker's pool is its parent's, never one of its own
    run = os.getppid() if "PYTEST_XDIST_WORKER" in os.environ else os.getpid()
    assert DEFAULT_POOL_DIR.name.startswith(f"focalcls-test-gpu-pool-{run}-")


@pytest.mark.parametrize(("exported", "pool"), [("", []), ("-1", []), ("2,-1,3", ["2"]), ("GPU-8a1f", ["GPU-8a1f"])])
def test_gpus_hidden_by_cuda_visible_devices_stay_out_of_the_pool(tmp_path, monkeypatch, exported, pool):
    """CUDA_VISIBLE_DEVICES="" or -1 hides every GPU; the pool must not fall back to the machine's GPUs."""
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", exported)
    monkeypatch.setattr("focalcls.devices.gpu_pool.visible_gpu_count", lambda: 4)
    assert gpu_pool() == pool
    if not pool:
        with pytest.raises(UserError, match="the GPU pool has 0 id"):
            with acquire_gpus(1, pool_dir=tmp_path, timeout_s=0):
                pass


def test_a_schedulers_allocation_is_read_as_cuda_reads_it(tmp_path, monkeypatch):
    monkeypatch.setenv(ALLOCATED_VARIABLE, "1")
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "3,-1,5")  # CUDA shows 3 alone
    with acquire_gpus(1, pool_dir=tmp_path) as ids:
        assert ids == ["3"]
    with pytest.raises(UserError, match="gave this job 1 GPU"):
        with acquire_gpus(2, pool_dir=tmp_path):
            pass
