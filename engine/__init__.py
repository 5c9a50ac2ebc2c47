"""Lambda MR: a serverless map-reduce engine for AWS Lambda.

User code needs only :class:`Mapper` (or :class:`ArrowMapper`), :class:`Reducer`,
:class:`TaskContext` and, for models, :func:`fetch_file`.
Importing this package does not import pyspark.
"""

from .errors import EngineError, ManifestError, PlanError, StorageError, UserCodeError
from .interfaces import ArrowMapper, Mapper, Reducer, TaskContext
from .model_files import fetch_file

__all__ = ["ArrowMapper", "EngineError", "ManifestError", "Mapper", "PlanError", "Reducer", "StorageError",
           "TaskContext", "UserCodeError", "fetch_file"]
