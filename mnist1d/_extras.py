"""What each optional part of the package needs, and the message when it is not installed.

`pip install mnist1d` brings the dataset (mnist1d.data, .transform, .utils, .store, .io) and its
light dependencies only. The models and the training engine need PyTorch (the `torch` extra),
the experiments and the workflow's plumbing need what the Snakemake pipeline uses (the
`pipeline` extra). A module of such a part calls `require` at its top, so that importing it
without its extra says what to install instead of a bare "No module named 'torch'".
"""
import importlib

# How the packages are called in the messages (import name: project name)
NAMES = {"torch": "PyTorch", "pandas": "pandas", "yaml": "PyYAML", "sklearn": "scikit-learn",
         "openTSNE": "openTSNE", "snakemake": "Snakemake"}


def require(*modules, extra, by):
    """Import `modules` (import names); if one is missing, raise ImportError saying that `by`
    (a module name) needs it and that `pip install 'mnist1d[<extra>]'` brings it. Returns the
    first module, so that a function that imports lazily can write
    `torch = require("torch", extra="torch", by=__name__)`."""
    imported, missing, causes = [], [], []
    for name in modules:
        try:
            imported.append(importlib.import_module(name))
        except ImportError as err:
            missing.append(name)
            causes.append(err)
    if missing:
        what = " and ".join(NAMES.get(name, name) for name in missing)
        error = ImportError(f"{by} needs {what}: pip install 'mnist1d[{extra}]' "
                            f"({'; '.join(str(cause) for cause in causes)})", name=missing[0])
        raise error from causes[0]
    return imported[0] if imported else None
