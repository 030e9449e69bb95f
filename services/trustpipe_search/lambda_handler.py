"""The indexer as a Lambda function on the scored stream's event source mapping
(`trustpipe_stream.lambda_batch`): the handler is ``trustpipe_search.lambda_handler.handler``."""

from trustpipe_search.app import stream_indexer
from trustpipe_stream.lambda_batch import handler_for

handler = handler_for(stream_indexer)
