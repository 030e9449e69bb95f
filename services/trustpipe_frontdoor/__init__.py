"""The stream's ingestion front door: an enterprise's sensors POST batches to it, it stamps the
caller's enterprise on every record it puts on the raw stream (API Gateway + Lambda on AWS, a
local server of the local stack)."""
