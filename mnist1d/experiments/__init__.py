"""The paper's experiments, one module each: what a job computes, its tables and its figures."""
