"""The paper's experiments, one module each: what a job computes, its tables and its figures.

Job functions. Each training job of the pipeline (a rule of workflow/rules/ whose script trains,
or computes a table from data) is one function of its experiment's module, and every caller runs
the job through it: the rule's script (workflow/scripts/), benchmarks/gpu_check.py, the speed
scripts that time a whole job, the tests. One shape for all:

    outputs = module.KIND_job(protocol, inputs, *, device="cpu", logger=None)

* `protocol`: exactly what the rule passes as `params.protocol` (the module's
  `protocol_from_config`, or the variant's protocol function it names);
* `inputs`: the loaded inputs, a mapping name -> object (a dataset dict of mnist1d.store, a
  pandas DataFrame); the script loads the files, the function computes. A job with one dataset
  calls it "dataset"; a job with several names them as its protocol does (pooling: the dataset
  names, double descent: the noise rates);
* `device`: a torch.device or its name, where the job computes (the script's `job_device`);
* `logger`: a logging.Logger for the job's progress lines (None: silent);
* returns a dict of the job's outputs keyed by the rule's output names (every output of a
  training rule is named): DataFrames, or a dict of arrays for an .npz file.
  mnist1d.pipeline.script.write_outputs writes them.

A job that keeps a checkpoint also takes `checkpoint` (a path, or None for none); a job without
one does not take the argument. A job function may take further keyword-only options for tests
and benchmarks (a `dtype`, ssl's `probes`); their defaults are what the pipeline runs.

Names: KIND is the last word of the rule's name (benchmark_train -> `train_job`, ssl_variant ->
`variant_job`, tsne_baselines -> `baselines_job`, metalearn_afunc_fit -> afunc_fit.`fit_job`);
a rule named after its experiment alone (metalearn_lr, metalearn_afunc) runs `train_job`.

    benchmark.train_job          double_descent.train_job     pooling.train_job
    ssl.train_job                ssl.variant_job              sweeps.train_job
    metalearn_lr.train_job       metalearn_afunc.train_job    afunc_fit.fit_job
    tsne.baselines_job           lottery.segment_job          lottery.part_job

The lottery's search segment returns its mask store as a `lottery.SearchMasks`, which its
script writes with `save` (a compressed .npz of bit-packed masks), the history with
write_outputs.
"""
from mnist1d._extras import require

require("pandas", extra="pipeline", by=__name__)   # every experiment's tables
