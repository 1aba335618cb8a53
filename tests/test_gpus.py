import socket

import pytest

from focalcls.errors import UserError
from focalcls.gpus import acquire_gpus, free_port


def test_two_jobs_never_share_ids_and_ids_come_back(tmp_path, monkeypatch):
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    with acquire_gpus(2, total=4, pool_dir=tmp_path) as first:
        with acquire_gpus(2, total=4, pool_dir=tmp_path) as second:
            assert len(first) == len(second) == 2 and not set(first) & set(second)
            with pytest.raises(UserError, match="no 1 free GPU"):
                with acquire_gpus(1, total=4, pool_dir=tmp_path, timeout_s=0):
                    pass
    with acquire_gpus(4, total=4, pool_dir=tmp_path) as everything:
        assert everything == [0, 1, 2, 3]


def test_ids_are_released_when_the_job_fails(tmp_path, monkeypatch):
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    with pytest.raises(RuntimeError):
        with acquire_gpus(1, total=1, pool_dir=tmp_path):
            raise RuntimeError("training crashed")
    with acquire_gpus(1, total=1, pool_dir=tmp_path, timeout_s=0) as ids:
        assert ids == [0]


def test_scheduler_assignment_wins_and_too_many_is_an_error(tmp_path, monkeypatch):
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "3,5")
    with acquire_gpus(2, pool_dir=tmp_path) as ids:
        assert ids == ["3", "5"]
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "GPU-8a1f,GPU-77c2")
    with acquire_gpus(1, pool_dir=tmp_path) as ids:
        assert ids == ["GPU-8a1f"]
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "3,5")
    with pytest.raises(UserError, match="train.gpus is 3"):
        with acquire_gpus(3, pool_dir=tmp_path):
            pass
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES")
    with pytest.raises(UserError, match="shows 2 GPU"):
        with acquire_gpus(4, total=2, pool_dir=tmp_path):
            pass


def test_free_port_is_bindable():
    port = free_port()
    with socket.socket() as s:
        s.bind(("127.0.0.1", port))
