"""Lambda MR: a serverless map-reduce engine for AWS Lambda.

User code needs only :class:`Mapper` (or :class:`ArrowMapper`), :class:`Reducer`,
:class:`TaskContext` and, for models, :func:`fetch_file`.
Importing this package does not import pyspark.
"""

from .errors import EngineError, ManifestError, PlanError, StorageError, UserCodeError
from .interfaces import ArrowMapper, Mapper, Reducer, TaskContext
from .job.loading import register_role_bases
from .model_files import fetch_file

# The manifest parser checks a named class against these (the job model imports no
# module above it; this package, importing both, wires them).
register_role_bases(mapper=Mapper, reducer=Reducer)

__all__ = ["ArrowMapper", "EngineError", "ManifestError", "Mapper", "PlanError", "Reducer", "StorageError",
           "TaskContext", "UserCodeError", "fetch_file"]
