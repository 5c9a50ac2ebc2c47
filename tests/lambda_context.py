"""The fields of Lambda's context object that our handlers (and powertools' decorators)
read. Kept free of heavy imports: the cold-start benchmark uses it in a timed process."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field


@dataclass
class LambdaContext:
    function_name: str
    memory_limit_in_mb: int
    invoked_function_arn: str
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    function_version: str = "$LATEST"

    def get_remaining_time_in_millis(self) -> int:
        return 900_000
