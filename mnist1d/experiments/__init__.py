"""The paper's experiments, one module each: what a job computes, its tables and its figures."""
from mnist1d._extras import require

require("pandas", extra="pipeline", by=__name__)   # every experiment's tables
