"""Set-up instances: one per process for a class, settings and params, even when tasks
start at once on several threads; a failed setup is named and not kept."""

from __future__ import annotations

import logging
import threading
import time
from pathlib import Path

import pytest

from engine.errors import UserCodeError
from engine.interfaces import Mapper, TaskContext
from engine.job.params import frozen
from engine.user_code import settings_of, shared_instance

SETUPS: list[tuple] = []


class SlowSetup(Mapper):
    def setup(self, ctx):
        time.sleep(0.2)
        SETUPS.append((id(self), ctx.params["model"], ctx.task_id))
        self.model = ctx.params["model"]


class FailsOnce(Mapper):
    calls = 0

    def setup(self, ctx):
        FailsOnce.calls += 1
        if FailsOnce.calls == 1:
            raise OSError("shard not there yet")


def ctx(task_id: str, **params) -> TaskContext:
    return TaskContext("job", task_id, [], logging.LoggerAdapter(logging.getLogger("t"), {}), params=frozen(params))


def test_one_setup_for_tasks_starting_at_once_and_another_for_other_params():
    del SETUPS[:]
    got: list = []
    threads = [threading.Thread(target=lambda i=i: got.append(shared_instance(SlowSetup, {}, ctx(f"t{i}", model="a"),
                                                                                "Mapper")))
               for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(SETUPS) == 1 and len({id(x) for x in got}) == 1 and got[0].model == "a"
    other = shared_instance(SlowSetup, {}, ctx("t9", model="b"), "Mapper")
    assert other is not got[0] and other.model == "b" and len(SETUPS) == 2
    assert shared_instance(SlowSetup, {}, ctx("t10", model="a"), "Mapper") is got[0]


def test_settings_are_applied_and_part_of_the_key():
    csv = shared_instance(SlowSetup, {"input_format": "csv"}, ctx("t1", model="s"), "Mapper")
    text = shared_instance(SlowSetup, {"input_format": "text"}, ctx("t2", model="s"), "Mapper")
    assert (csv.input_format, text.input_format) == ("csv", "text")


def test_a_failed_setup_is_a_named_user_code_error_and_is_tried_again():
    line = next(i for i, text in enumerate(Path(__file__).read_text().splitlines(), start=1)
                if 'raise OSError("shard not there yet")' in text)
    # The user's exception, and the line of their file that raised it.
    with pytest.raises(UserCodeError, match=rf"^Mapper.setup raised OSError: shard not there yet "
                                            rf"\(at tests/unit/test_user_code.py:{line} in setup\)$"):
        shared_instance(FailsOnce, {}, ctx("t1"), "Mapper")
    assert shared_instance(FailsOnce, {}, ctx("t2"), "Mapper") is not None
    assert FailsOnce.calls == 2


def test_without_set_up_the_instance_is_made_but_setup_not_run():
    del SETUPS[:]
    instance = shared_instance(SlowSetup, {}, ctx("t1", model="driver"), "Mapper", set_up=False)
    assert SETUPS == [] and not hasattr(instance, "model")


def test_a_process_keeps_only_the_most_recently_used_instances():
    from engine.user_code import MAX_INSTANCES

    del SETUPS[:]
    made = {f"m{i}": shared_instance(SlowSetup, {}, ctx("t", model=f"m{i}"), "Mapper") for i in range(MAX_INSTANCES)}
    assert shared_instance(SlowSetup, {}, ctx("t", model="m0"), "Mapper") is made["m0"]    # used again: kept
    shared_instance(SlowSetup, {}, ctx("t", model="new"), "Mapper")                     # one too many
    assert len(SETUPS) == MAX_INSTANCES + 1
    assert shared_instance(SlowSetup, {}, ctx("t", model="m0"), "Mapper") is made["m0"]
    assert len(SETUPS) == MAX_INSTANCES + 1
    assert shared_instance(SlowSetup, {}, ctx("t", model="m1"), "Mapper") is not made["m1"]  # the oldest went
    assert len(SETUPS) == MAX_INSTANCES + 2


def test_an_instance_made_without_setup_is_set_up_in_place_when_asked():
    del SETUPS[:]
    planned = shared_instance(SlowSetup, {}, ctx("t1", model="plan"), "Mapper", set_up=False)
    assert SETUPS == []
    ready = shared_instance(SlowSetup, {}, ctx("reduce", model="plan"), "Mapper")
    assert ready is planned and planned.model == "plan" and len(SETUPS) == 1
    assert shared_instance(SlowSetup, {}, ctx("t2", model="plan"), "Mapper", set_up=False) is planned
    assert shared_instance(SlowSetup, {}, ctx("t3", model="plan"), "Mapper") is planned and len(SETUPS) == 1


def test_an_instance_tells_the_settings_it_was_made_with_not_what_setup_added():
    made = shared_instance(SlowSetup, {"input_format": "csv", "read_options": {"sep": ";"}}, ctx("t1", model="m"),
                           "Mapper")
    assert made.model == "m"                          # set by setup: not a setting
    assert settings_of(made) == {"input_format": "csv", "read_options": {"sep": ";"}}
    assert settings_of(shared_instance(SlowSetup, {}, ctx("t2", model="m"), "Mapper")) == {}


SPARK_TEXT = """An exception was thrown from the Python worker. Please see the stack trace below.
Traceback (most recent call last):
  File "/opt/venv/lib/python3.11/site-packages/pyspark/worker.py", line 1897, in main
    process()
  File "/home/ana/jobs/clean.py", line 12, in parse
    return float(value)
           ^^^^^^^^^^^^
ValueError: could not convert string to float: 'n/a'

JVM stacktrace:
org.apache.spark.api.python.PythonException
\tat org.apache.spark.api.python.BasePythonRunner$ReaderIterator.handlePythonException(PythonRunner.scala:1097)
"""


def test_a_udfs_exception_is_told_in_one_line_with_the_users_frame_then_its_python_traceback():
    from engine.user_code import describe_spark_error

    first, *rest = describe_spark_error("writing the mapper's output", SPARK_TEXT).splitlines()
    assert first == ("writing the mapper's output: the Python code raised ValueError: could not convert string "
                     "to float: 'n/a' (at /home/ana/jobs/clean.py:12 in parse)")
    assert rest[0] == "Traceback (most recent call last):" and rest[-1].startswith("ValueError")
    assert not any("JVM" in line or "\tat " in line for line in rest)


def test_a_log_keeps_the_first_line_of_each_java_stack_trace_and_counts_the_rest():
    from engine.logs import condensed

    text = "before\norg.x.Boom: bad\n\tat a.b(C.java:1)\n\tat d.e(F.java:2)\nCaused by: y\n\t... 4 more\nafter\n"
    assert condensed(text) == ("before\norg.x.Boom: bad\n\t... 4 lines of Java stack trace (--full shows them)\n"
                               "after\n")


def test_an_error_without_a_message_still_makes_a_progress_line():
    """An exception with an empty message used to raise IndexError in the progress line."""
    from engine.cli.progress import format_event

    line = format_event({"event": "task_failed", "task_id": "t00000", "attempts": 1, "inputs": ["a.txt"],
                         "error": {"errorType": "UserCodeError", "errorMessage": ""}}, 1)
    assert line == "  t00000 FAILED after 1 attempt(s): UserCodeError:   a.txt"
