"""The importer as a Lambda function on its stream's event source mapping (`trustpipe_stream.lambda_batch`):
the handler is ``trustpipe_importer.lambda_handler.handler``."""

from trustpipe_importer.app import stream_importer
from trustpipe_stream.lambda_batch import handler_for

handler = handler_for(stream_importer)
