"""The job model: the spec, planning, where a job's files live, its status, lifecycle and cache. Importable without pyspark."""
