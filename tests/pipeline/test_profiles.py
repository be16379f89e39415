"""The cluster and workstation profiles, checked by dry runs (no cluster needed): bundles,
per-topic resources, no GPU for plotting, and a bad `jobs` value stops the run naming the key."""
import re

import yaml

from helpers import REPO, run_snakemake


def dry_run(workdir, profile, overrides=None, check=True):
    """A dry run of the smoke preset's `all`, with config overrides from a --configfile (nested
    values given with --config arrive as strings)."""
    extra = workdir / "overrides.yaml"
    extra.write_text(yaml.safe_dump({"preset": "smoke", **(overrides or {})}))
    profile_args = ["--profile", str(REPO / "profiles" / profile)] if profile else []
    proc = run_snakemake(workdir, "all", "-n", *profile_args, "--configfile", str(extra),
                         timeout=300, check=check)
    return proc if not check else proc.stdout + proc.stderr


def job_blocks(out):
    """(rule, resources line, group or None) of every job the dry run lists."""
    blocks, group = [], None
    for chunk in re.split(r"\n(?=\s*\[[^\]]+\])", out):
        head = re.search(r"\] Group job (\w+)", chunk)
        if head:
            group = head.group(1)
            continue
        rule = re.search(r"^\s*(?:local)?rule (\w+):", chunk, flags=re.M)
        if rule:
            indented = chunk.lstrip("\n").startswith("    ")
            res = re.search(r"resources: (.*)", chunk)
            blocks.append((rule.group(1), res.group(1) if res else "", group if indented else None))
    return blocks


def test_slurm_profile_bundles_datasets_and_plots_without_gpu(tmp_path):
    out = dry_run(tmp_path, "slurm", {"jobs": {"gpus": 1, "gpu_model": "a100"}})
    blocks = job_blocks(out)
    datasets = [b for b in blocks if b[0] == "dataset"]
    assert len(datasets) == 11 and all(b[2] == "data_bundle" for b in datasets), datasets
    figures = [b for b in blocks if b[0] == "data_figures"]
    assert len(figures) == 1 and figures[0][2] is None
    for rule, resources, _ in datasets + figures:           # neither trains: never a GPU
        assert "gpu=0" in resources and "gpu_model" not in resources, (rule, resources)
        assert "runtime=10" in resources and "mem_mb=2000" in resources, (rule, resources)


def test_local_profile_runs_every_job_on_its_own(tmp_path):
    out = dry_run(tmp_path, "local")
    # no bundling on a workstation: each dataset job is a group of its own
    assert len(re.findall(r"\] Group job data_bundle", out)) == 11
    assert len([b for b in job_blocks(out) if b[0] == "dataset"]) == 11


def test_bad_jobs_value_names_the_key(tmp_path):
    proc = dry_run(tmp_path, None, {"jobs": {"gpus": -1}}, check=False)
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0
    assert "config key 'jobs.gpus'" in out and "-1 is less than the minimum" in out, out[-2000:]


def test_gpu_requests_reach_sbatch_as_the_plugin_writes_them():
    """job_resources' GPU keys, through the SLURM plugin's own GRES/GPU formatting."""
    from types import SimpleNamespace

    from snakemake_executor_plugin_slurm.utils import set_gres_string

    from mnist1d.pipeline.jobs import job_resources

    jobs = {"gpus": 1, "gpu_model": "", "gres": "",
            "topics": {"default": {"threads": 1, "mem_mb": 2000, "runtime": 30}}}

    class Resources(dict):                     # Snakemake's resources: keys and attributes
        __getattr__ = dict.__getitem__

    def sbatch_gpu_flags(jobs_config, gpu):
        resources = Resources(job_resources(jobs_config, "t", gpu=gpu))
        return set_gres_string(SimpleNamespace(resources=resources))

    assert sbatch_gpu_flags(jobs, gpu=True).strip() == "--gpus=1"
    assert sbatch_gpu_flags({**jobs, "gpu_model": "a100"}, gpu=True).strip() == "--gpus=a100:1"
    assert sbatch_gpu_flags({**jobs, "gres": "gpu:a100:1"}, gpu=True).strip() == "--gres=gpu:a100:1"
    assert sbatch_gpu_flags({**jobs, "gpu_model": "a100"}, gpu=False) == ""   # plotting
    assert sbatch_gpu_flags({**jobs, "gpus": 0}, gpu=True) == ""              # CPU training


def test_gpu_profile_shares_each_gpu_among_the_training_jobs(tmp_path):
    """profiles/gpu: every training job asks for a GPU and a slot of it (four jobs per GPU), at
    most four run at once; datasets and figures stay on the cores. A preset chosen with --config
    keeps them (a --configfile would replace the profile's configfiles: docs/cluster.md)."""
    proc = run_snakemake(tmp_path, "all", "-n", "--profile", str(REPO / "profiles" / "gpu"),
                         "--config", "preset=smoke", timeout=300)
    out = proc.stdout + proc.stderr
    blocks = job_blocks(out)
    training = {"benchmark_train", "pooling_train", "dd_train", "ssl_train"}
    trained = [b for b in blocks if b[0] in training]
    assert {b[0] for b in trained} == training, sorted({b[0] for b in blocks})
    for rule, resources, _ in trained:
        assert "gpu=1" in resources and "gpu_slots=4" in resources, (rule, resources)
    for rule, resources, _ in blocks:
        if rule in {"dataset", "data_figures"}:
            assert "gpu=0" in resources and "gpu_slots" not in resources, (rule, resources)
    profile = yaml.safe_load((REPO / "profiles" / "gpu" / "config.yaml").read_text())
    assert profile["resources"] == ["gpu=4"]
