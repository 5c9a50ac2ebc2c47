"""Coordinator Lambda (zip, no pyspark): a manifest uploaded under manifests/ becomes a job."""

from __future__ import annotations

import os
from functools import cache
from urllib.parse import unquote_plus

import boto3
from aws_lambda_powertools.utilities.data_classes import S3Event, event_source

from engine.stack.functions import DATA_BUCKET_ENV, STATE_MACHINE_ENV, manifest_uri, submit_manifest
from engine.store.uris import s3_uri
from lambdas._shared import logger, storage


@cache
def _sfn():
    return boto3.client("stepfunctions")


@logger.inject_lambda_context(clear_state=True)
@event_source(data_class=S3Event)
def handler(event: S3Event, context) -> dict:
    jobs = []
    for record in event.records:
        # S3 notifications URL-encode the key ("/" as %2F, spaces as "+"); powertools'
        # S3Object.key returns it raw.
        uri = manifest_uri(record.s3.bucket.name, unquote_plus(record.s3.get_object.key))
        logger.append_keys(manifest=uri)
        job = submit_manifest(uri, s3_uri(os.environ[DATA_BUCKET_ENV]), os.environ[STATE_MACHINE_ENV],
                              _sfn(), storage())
        logger.info("manifest handled", extra={"job_id": job["job_id"], "state": job["state"]})
        jobs.append(job)
    return {"jobs": jobs}
