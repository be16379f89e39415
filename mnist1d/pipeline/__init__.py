"""The workflow's plumbing (no experiment imports it): configuration, devices, job resources,
logs and timing."""
