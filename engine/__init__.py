"""Lambda MR: a serverless map-reduce engine for AWS Lambda.

User code needs only :class:`Mapper`, :class:`Reducer` and :class:`TaskContext`.
Importing this package does not import pyspark.
"""

from .errors import EngineError, ManifestError, PlanError, StorageError, UserCodeError
from .interfaces import Mapper, Reducer, TaskContext

__all__ = ["EngineError", "ManifestError", "Mapper", "PlanError", "Reducer", "StorageError",
           "TaskContext", "UserCodeError"]
