output "raw_stream_name" {
  description = "Kinesis stream the sensors put framed Avro records on."
  value       = try(aws_kinesis_stream.this["raw"].name, null)
}

output "scored_stream_name" {
  description = "Kinesis stream the scorers put scored messages on."
  value       = try(aws_kinesis_stream.this["scored"].name, null)
}

output "imported_stream_name" {
  description = "Kinesis stream the stream importers put stored verdicts on (the alerters read it)."
  value       = try(aws_kinesis_stream.this["imported"].name, null)
}

output "stream_arns" {
  description = "ARNs of the streams by role (raw, scored, imported)."
  value       = try({ for role, stream in aws_kinesis_stream.this : role => stream.arn }, null)
}

output "archive_delivery_stream_name" {
  description = "Firehose delivery stream archiving the raw stream (null when not created)."
  value       = try(aws_kinesis_firehose_delivery_stream.archive[0].name, null)
}
