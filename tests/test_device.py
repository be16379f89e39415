"""Device choice for a job, tested without a GPU by faking the number of devices."""
import contextlib
import json
import subprocess
import sys
import textwrap

import pytest
import torch

from mnist1d.pipeline import device as dev
from mnist1d.pipeline.jobs import job_group, job_resources, job_threads

JOBS = {"gpus": 1, "gpu_model": "", "gres": "",
        "topics": {"default": {"threads": 1, "mem_mb": 2000, "runtime": 30},
                   "train": {"threads": 2, "mem_mb": 4000, "runtime": 120}}}


@pytest.fixture
def fake_cuda(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 3)
    monkeypatch.setattr(torch.cuda, "set_device", lambda index: None)
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    monkeypatch.delenv("SLURM_JOB_ID", raising=False)


def test_select_device_honours_the_job(fake_cuda):
    assert dev.select_device("auto", gpus=1).type == "cuda"
    assert dev.select_device("auto", gpus=0).type == "cpu"      # no GPU asked: the CPU
    assert dev.select_device("auto").type == "cuda"              # outside a job: any GPU
    assert dev.select_device("cpu", gpus=1).type == "cpu"
    assert dev.select_device("cuda", gpus=0).type == "cuda"
    with pytest.raises(ValueError, match="config key 'device'"):
        dev.select_device("tpu")


def test_select_device_without_cuda(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert dev.select_device("auto", gpus=1).type == "cpu"
    with pytest.raises(RuntimeError, match="no CUDA device"):
        dev.select_device("cuda")


def test_parallel_claims_get_distinct_gpus(fake_cuda, tmp_path):
    with dev.claim_gpu(lock_dir=tmp_path) as a, dev.claim_gpu(lock_dir=tmp_path) as b, \
            dev.claim_gpu(lock_dir=tmp_path) as c:
        assert sorted([a, b, c]) == [0, 1, 2]
        with pytest.raises(TimeoutError, match="all 3 GPUs"):
            with dev.claim_gpu(lock_dir=tmp_path, timeout=0.2, poll=0.05):
                pass
    with dev.claim_gpu(lock_dir=tmp_path) as again:          # released: free again
        assert again == 0


def test_claims_across_processes(tmp_path):
    """Jobs are processes: three at once on three (fake) GPUs each hold a different one."""
    script = textwrap.dedent(f"""
        import sys, time
        from mnist1d.pipeline.device import claim_gpu
        with claim_gpu(n_devices=3, lock_dir={str(tmp_path)!r}) as index:
            print(index, flush=True)
            time.sleep(1.5)
    """)
    procs = [subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True,
                              env={"PYTHONPATH": ".", "PATH": "/usr/bin:/bin"})
             for _ in range(3)]
    indices = sorted(int(p.communicate(timeout=120)[0]) for p in procs)
    assert indices == [0, 1, 2]


def test_job_device_claims_only_for_gpu_jobs(fake_cuda, tmp_path):
    with dev.job_device("auto", {"gpu": 1}, lock_dir=tmp_path) as d1, \
            dev.job_device("auto", {"gpu": 1}, lock_dir=tmp_path) as d2, \
            dev.job_device("auto", {"gpu": 0}, lock_dir=tmp_path) as d3:
        assert {d1, d2} == {torch.device("cuda", 0), torch.device("cuda", 1)}
        assert d3.type == "cpu"


def test_gpu_slots_spread_over_the_gpus_then_share_them(fake_cuda, tmp_path):
    """With two slots per GPU, six jobs fit on three GPUs: each GPU's first slot is taken before
    any second one, and a seventh job waits."""
    with contextlib.ExitStack() as stack:
        held = [stack.enter_context(dev.claim_gpu(lock_dir=tmp_path, slots=2)) for _ in range(6)]
        assert held == [0, 1, 2, 0, 1, 2]
        with pytest.raises(TimeoutError, match=r"all 3 GPUs \(2 slots each\)"):
            with dev.claim_gpu(lock_dir=tmp_path, slots=2, timeout=0.2, poll=0.05):
                pass
    resources = {"gpu": 1, "gpu_slots": 2}
    with dev.job_device("auto", resources, lock_dir=tmp_path) as a, \
            dev.job_device("auto", resources, lock_dir=tmp_path) as b, \
            dev.job_device("auto", resources, lock_dir=tmp_path) as c, \
            dev.job_device("auto", resources, lock_dir=tmp_path) as d:
        assert [a.index, b.index, c.index, d.index] == [0, 1, 2, 0]


@pytest.mark.parametrize("error", [torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 2 GiB"),
                                   RuntimeError("CUDA error: an illegal memory access was encountered")])
def test_a_job_that_loses_its_gpu_names_itself_and_the_device(fake_cuda, tmp_path, error):
    with pytest.raises(dev.GPULost, match=r"job dd_train lost its GPU cuda:0 .*retry") as info:
        with dev.job_device("auto", {"gpu": 1}, lock_dir=tmp_path, job="dd_train"):
            raise error
    assert info.value.__cause__ is error
    with dev.job_device("auto", {"gpu": 1}, lock_dir=tmp_path) as again:   # the slot is free again
        assert again.index == 0
    with pytest.raises(ValueError, match="not a GPU problem"):             # other errors pass as they are
        with dev.job_device("auto", {"gpu": 1}, lock_dir=tmp_path, job="dd_train"):
            raise ValueError("not a GPU problem")


def test_cpu_jobs_flush_denormals(tmp_path):
    """Inside a CPU job a subnormal float32 result is zero (the slow path is never taken); before
    and after the block IEEE arithmetic is untouched."""
    tiny = torch.tensor([1e-20], dtype=torch.float32)
    assert (tiny * 1e-19).item() != 0.0                        # 1e-39: subnormal, kept
    with dev.job_device("cpu", {"gpu": 0}, lock_dir=tmp_path) as where:
        assert where.type == "cpu"
        assert (tiny * 1e-19).item() == 0.0                    # flushed
        assert (tiny * 1e-17).item() == pytest.approx(1e-37)    # normal numbers as before
    assert (tiny * 1e-19).item() != 0.0


def test_claims_follow_cuda_visible_devices_and_slurm(fake_cuda, tmp_path, monkeypatch):
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "5,7")
    with dev.claim_gpu(lock_dir=tmp_path) as index:
        assert index == 0 and (tmp_path / "gpu-5.lock").exists()
    monkeypatch.setenv("SLURM_JOB_ID", "42")       # a SLURM job's GPUs are its own
    with dev.claim_gpu(lock_dir=tmp_path):
        assert (tmp_path / "slurm-42" / "gpu-5.lock").exists()


def test_set_threads(monkeypatch):
    for name in dev.THREAD_VARIABLES:
        monkeypatch.setenv(name, "8")
    before = torch.get_num_threads()
    try:
        assert dev.set_threads(0) == 1 and torch.get_num_threads() == 1
    finally:
        torch.set_num_threads(before)
    assert all(dev.os.environ[name] == "1" for name in dev.THREAD_VARIABLES)   # child processes


def test_set_threads_in_a_fresh_job():
    """A one-thread job: intra- and inter-op threads 1; a job that does not train (t-SNE) sets
    the thread variables without importing torch."""
    code = textwrap.dedent("""
        import os, sys
        from mnist1d.pipeline import device
        device.set_threads(3, torch_threads=False)
        assert "torch" not in sys.modules and os.environ["OPENBLAS_NUM_THREADS"] == "3"
        device.set_threads(1)
        import torch
        print(torch.get_num_threads(), torch.get_num_interop_threads(), os.environ["MKL_NUM_THREADS"])
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["1", "1", "1"]


def test_job_resources_from_config():
    assert job_threads(JOBS, "train") == 2 and job_threads(JOBS, "figures") == 1
    assert job_resources(JOBS, "figures") == {"mem_mb": 2000, "runtime": 30, "gpu": 0}
    assert job_resources(JOBS, "train", gpu=True) == {"mem_mb": 4000, "runtime": 120, "gpu": 1,
                                                      "gpu_slots": 1}
    assert job_resources({**JOBS, "gpu_slots": 4}, "train", gpu=True)["gpu_slots"] == 4
    assert "gpu_slots" not in job_resources({**JOBS, "gpu_slots": 4}, "figures")
    on_cpu = {**JOBS, "topics": {**JOBS["topics"], "train": {**JOBS["topics"]["train"], "gpu": False}}}
    assert job_resources(on_cpu, "train", gpu=True)["gpu"] == 0          # measured faster on the CPU
    assert job_resources({**JOBS, "gpus": 0}, "train", gpu=True)["gpu"] == 0
    assert job_resources({**JOBS, "gpu_model": "a100"}, "train", gpu=True)["gpu_model"] == "a100"
    gres = job_resources({**JOBS, "gres": "gpu:a100:1"}, "train", gpu=True)
    assert gres["gres"] == "gpu:a100:1" and "gpu" not in gres and gres["gpu_count"] == 1
    assert dev.requested_gpus(gres) == 1
    # a model without a GPU request would make the plugin ask --gpus=MODEL:1: never sent
    assert "gpu_model" not in job_resources({**JOBS, "gpu_model": "a100"}, "figures")
    assert job_group("data") == "data_bundle"


# --- the training scripts of the workflow claim their GPU with job_device -----------------------

# Runs one workflow script as Snakemake would (a `snakemake` object with its input, output,
# params, threads, resources, log), with three fake GPUs: the real job_device claims one and
# prints it, holds it long enough for the other jobs to start, then trains on the CPU.
SCRIPT_RUNNER = textwrap.dedent("""
    import contextlib, json, runpy, sys, time
    import torch
    cuda_available = torch.cuda.is_available
    torch.cuda.is_available = lambda: True
    torch.cuda.device_count = lambda: 3
    torch.cuda.set_device = lambda index: None
    from mnist1d.pipeline import device

    claim = device.job_device

    @contextlib.contextmanager
    def claimed_then_cpu(preference="auto", resources=None, **kwargs):
        with claim(preference, resources, **kwargs) as where:
            print("CLAIMED", where, flush=True)
            torch.cuda.is_available = cuda_available     # the training itself sees no GPU
            time.sleep(float(sys.argv[3]))
            yield torch.device("cpu")

    device.job_device = claimed_then_cpu

    class Files(list):
        def __init__(self, named):
            super().__init__(named.values() if isinstance(named, dict) else named)
            self.names = list(named) if isinstance(named, dict) else []
            if isinstance(named, dict):
                self.__dict__.update(named)

        def keys(self):
            return self.names

    class Params(dict):
        __getattr__ = dict.__getitem__

    job = json.loads(sys.argv[2])
    snakemake = type("Snakemake", (), {})()
    snakemake.input, snakemake.output = Files(job["input"]), Files(job["output"])
    snakemake.log, snakemake.threads = Files(job["log"]), 1
    snakemake.params, snakemake.resources = Params(job["params"]), Params(gpu=1, mem_mb=1000)
    runpy.run_path(sys.argv[1], init_globals={"snakemake": snakemake})
""")


def start_script(name, job, lock_dir, hold):
    env = {"PYTHONPATH": ".", "PATH": "/usr/bin:/bin", "OMP_NUM_THREADS": "1",
           "MNIST1D_GPU_LOCK_DIR": str(lock_dir)}
    return subprocess.Popen([sys.executable, "-c", SCRIPT_RUNNER, f"workflow/scripts/{name}.py",
                             json.dumps(job), str(hold)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)


def claimed_device(proc):
    out, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err[-3000:]
    return [line.split()[1] for line in out.splitlines() if line.startswith("CLAIMED")]


def test_double_descent_and_lottery_jobs_claim_distinct_gpus(tmp_path):
    """Two double-descent jobs and the lottery search at once on three (fake) GPUs: each holds
    its own; then the lottery analysis claims one too."""
    import yaml

    from mnist1d.data import get_dataset_args, make_dataset
    from mnist1d.experiments import double_descent, lottery
    from mnist1d.pipeline.config import resolve
    from mnist1d.store import save_dataset
    from mnist1d.utils import ObjectView

    config = resolve({**yaml.safe_load(open("config.yaml")), "preset": "smoke"}, {}, "workflow/presets")
    config["double_descent"].update(epochs=1, eval_every_epochs=1)
    args = get_dataset_args(as_dict=True) | {"num_samples": 400, "train_split": 0.5}
    data = tmp_path / "data.npz"
    save_dataset(make_dataset(ObjectView(args)), args, data)

    dd_jobs = double_descent.plan_jobs(config["double_descent"])[:2]
    noise_files = {}
    for rate in sorted({rate for job in dd_jobs for rate in job["noises"]}):
        noise_files[rate] = tmp_path / f"noise{rate}.npz"
        double_descent.make_noisy_dataset(data, rate, 0, noise_files[rate])
    jobs = [("dd_train", {"input": [str(noise_files[r]) for r in job["noises"]],
                          "output": {"history": str(tmp_path / f"{job['name']}.csv")},
                          "log": [str(tmp_path / f"{job['name']}.log")],
                          "params": {"protocol": double_descent.protocol_from_config(
                              config, job["name"]), "device": "auto"}})
            for job in dd_jobs]
    masks = tmp_path / "masks.npz"
    search = lottery.protocol_from_config(config, "search")
    jobs.append(("lottery_search_segment", {
        "input": {"data": str(data)},
        "output": {"history": str(tmp_path / "search.csv"), "masks": str(masks)},
        "log": [str(tmp_path / "search.log")],
        "params": {"protocol": {**search, "first_round": 0, "stop_round": search["rounds"]},
                   "checkpoint": str(tmp_path / "checkpoint" / "search"), "device": "auto"}}))
    procs = [start_script(name, job, tmp_path / "locks", hold=4.0) for name, job in jobs]
    claimed = [claimed_device(proc) for proc in procs]
    assert all(len(c) == 1 for c in claimed), claimed
    assert sorted(c[0] for c in claimed) == ["cuda:0", "cuda:1", "cuda:2"], claimed
    assert all((tmp_path / f"{job['name']}.csv").exists() for job in dd_jobs)

    protocol = lottery.protocol_from_config(config, "analysis")
    analysis = start_script("lottery_analysis_part", {
        "input": {"data": str(data), "masks": str(masks)},
        "output": {"history": str(tmp_path / "analysis.csv")},
        "log": [str(tmp_path / "analysis.log")],
        "params": {"protocol": {**protocol, "part": [protocol["trials"][0], "lottery"],
                                "grid": lottery.sparsity_grid(search["rounds"]).tolist()},
                   "device": "auto"}}, tmp_path / "locks", hold=0.0)
    assert claimed_device(analysis) == ["cuda:0"]


def test_a_script_names_its_job_by_rule_and_wildcards():
    from mnist1d.pipeline.script import job_name

    job = type("Snakemake", (), {"rule": "dd_train", "wildcards": {"job": "mlp_ce_g3"}})()
    assert job_name(job) == "dd_train (job=mlp_ce_g3)"
    assert job_name(type("Snakemake", (), {"rule": "metalearn_lr", "wildcards": {}})()) == "metalearn_lr"
