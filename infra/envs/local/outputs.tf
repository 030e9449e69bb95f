# Services read these (through .local/settings.json), never hard-coded names.
output "region" {
  description = "AWS region of the stack."
  value       = var.region
}

output "aws_endpoint" {
  description = "Endpoint the services use instead of AWS's."
  value       = var.aws_endpoint
}

output "landing_bucket" {
  description = "Bucket sensors upload Avro files to."
  value       = module.data_lake.landing_bucket
}

output "scored_bucket" {
  description = "Bucket of scored messages, stats and manifests."
  value       = module.data_lake.scored_bucket
}

output "archive_bucket" {
  description = "Data-lake archive bucket."
  value       = module.data_lake.archive_bucket
}

output "scored_topic_arn" {
  description = "SNS topic of scored-object events."
  value       = module.messaging.topic_arn
}

output "importer_queue_url" {
  description = "SQS queue the importers poll."
  value       = module.messaging.queue_url
}

output "importer_dlq_url" {
  description = "Dead-letter queue of the importers."
  value       = module.messaging.dlq_url
}

output "raw_stream_name" {
  description = "Kinesis stream of sensor records."
  value       = module.streaming.raw_stream_name
}

output "scored_stream_name" {
  description = "Kinesis stream of scored messages."
  value       = module.streaming.scored_stream_name
}

output "lease_table_name" {
  description = "DynamoDB table of stream consumer leases."
  value       = module.streaming.lease_table_name
}

output "registry_api_endpoint" {
  description = "The registry's API Gateway endpoint (on AWS; locally `trustpipe registry serve` runs the same app)."
  value       = module.schema_registry.api_endpoint
}

output "registry_function_name" {
  description = "The registry Lambda."
  value       = module.schema_registry.function_name
}

output "registry_table_name" {
  description = "DynamoDB table of the schema registry."
  value       = module.schema_registry.table_name
}

output "oncall_topic_arn" {
  description = "SNS topic that pages on-call (alarms, failed DAG tasks)."
  value       = module.monitoring.oncall_topic_arn
}
