#!/bin/sh
# TEST DOUBLE of the AWS Lambda base image's entrypoint: the handler is the one argument;
# without the Lambda service around (no AWS_LAMBDA_RUNTIME_API) the emulator stands in.
if [ $# -ne 1 ]; then
    echo "entrypoint requires the handler name to be the first argument" 1>&2
    exit 142
fi
export _HANDLER="$1"
if [ -z "${AWS_LAMBDA_RUNTIME_API}" ]; then
    exec /usr/local/bin/aws-lambda-rie /var/runtime/bootstrap "$_HANDLER"
fi
exec /var/runtime/bootstrap "$_HANDLER"
