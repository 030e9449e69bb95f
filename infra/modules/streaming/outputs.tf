output "raw_stream_name" {
  description = "Kinesis stream the sensors put framed Avro records on."
  value       = try(aws_kinesis_stream.this["raw"].name, null)
}

output "scored_stream_name" {
  description = "Kinesis stream the scorers put scored messages on."
  value       = try(aws_kinesis_stream.this["scored"].name, null)
}

output "stream_arns" {
  description = "ARNs of the streams by role (raw, scored)."
  value       = try({ for role, stream in aws_kinesis_stream.this : role => stream.arn }, null)
}

output "lease_table_name" {
  description = "DynamoDB table of the stream consumers' shard leases and checkpoints."
  value       = try(aws_dynamodb_table.leases.name, null)
}

output "archive_delivery_stream_name" {
  description = "Firehose delivery stream archiving the raw stream (null when not created)."
  value       = try(aws_kinesis_firehose_delivery_stream.archive[0].name, null)
}

output "lease_table_arn" {
  description = "ARN of the stream consumers' lease table."
  value       = try(aws_dynamodb_table.leases.arn, null)
}
