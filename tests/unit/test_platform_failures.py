"""What the function's environment did to a task is named, with the setting to change."""

from __future__ import annotations

import errno

from engine.errors import PlatformError, UserCodeError
from engine.spark.session import platform_failure


def test_a_full_tmp_under_user_code_is_a_platform_error_naming_the_function_setting():
    try:
        try:
            raise OSError(errno.ENOSPC, "No space left on device")
        except OSError as full:
            raise UserCodeError("Mapper.map raised OSError: [Errno 28] No space left on device") from full
    except UserCodeError as exc:
        named = platform_failure(exc, "map")
    assert isinstance(named, PlatformError)
    assert "MapperEphemeralStorage" in str(named)
    assert "ReducerEphemeralStorage" in str(platform_failure(OSError(errno.ENOSPC, "full"), "reduce"))


def test_other_errors_pass_unchanged_when_no_jvm_died():
    error = UserCodeError("Mapper.map raised ValueError: bad row")
    assert platform_failure(error, "map") is error
    other = OSError(errno.EACCES, "Permission denied")
    assert platform_failure(other, "map") is other
