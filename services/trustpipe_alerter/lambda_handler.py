"""The alerter as a Lambda function on its stream's event source mapping (`trustpipe_stream.lambda_batch`):
the handler is ``trustpipe_alerter.lambda_handler.handler``."""

from trustpipe_alerter.app import build_worker
from trustpipe_stream.lambda_batch import handler_for

handler = handler_for(build_worker)
