output "topic_arn" {
  description = "SNS topic of scored-object events, available once S3 may publish to it."
  value       = try(aws_sns_topic.this.arn, null)

  # S3 checks it may publish when a bucket notification is created: the policy comes first.
  depends_on = [aws_sns_topic_policy.this]
}

output "queue_url" {
  description = "URL of the importer queue."
  value       = try(aws_sqs_queue.this.id, null)
}

output "queue_arn" {
  description = "ARN of the importer queue."
  value       = try(aws_sqs_queue.this.arn, null)
}

output "queue_name" {
  description = "Name of the importer queue (for CloudWatch metrics and scaling)."
  value       = try(aws_sqs_queue.this.name, null)
}

output "dlq_url" {
  description = "URL of the importer dead-letter queue."
  value       = try(aws_sqs_queue.dlq.id, null)
}

output "dlq_arn" {
  description = "ARN of the importer dead-letter queue."
  value       = try(aws_sqs_queue.dlq.arn, null)
}

output "dlq_name" {
  description = "Name of the dead-letter queue."
  value       = try(aws_sqs_queue.dlq.name, null)
}

output "search_queue_url" {
  description = "URL of the search indexer's queue (the topic's second subscription)."
  value       = try(aws_sqs_queue.search.id, null)
}

output "search_queue_arn" {
  description = "ARN of the search indexer's queue."
  value       = try(aws_sqs_queue.search.arn, null)
}

output "search_queue_name" {
  description = "Name of the search indexer's queue (for CloudWatch metrics)."
  value       = try(aws_sqs_queue.search.name, null)
}

output "search_dlq_url" {
  description = "URL of the search indexer's dead-letter queue."
  value       = try(aws_sqs_queue.search_dlq.id, null)
}

output "search_dlq_name" {
  description = "Name of the search indexer's dead-letter queue."
  value       = try(aws_sqs_queue.search_dlq.name, null)
}
