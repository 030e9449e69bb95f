output "action_queue_urls" {
  description = "Each enterprise's action queue URL."
  value       = try({ for k, q in aws_sqs_queue.actions : k => q.url }, {})
}

output "action_queue_arns" {
  description = "Each enterprise's action queue ARN."
  value       = try({ for k, q in aws_sqs_queue.actions : k => q.arn }, {})
}

output "alert_topic_arns" {
  description = "Each enterprise's alert topic ARN."
  value       = try({ for k, t in aws_sns_topic.alerts : k => t.arn }, {})
}

output "actions_table_name" {
  description = "Table of the actions issued, by (enterprise, message id) as `action_key`."
  value       = try(aws_dynamodb_table.this.name, null)
}

output "actions_table_arn" {
  description = "ARN of that table."
  value       = try(aws_dynamodb_table.this.arn, null)
}
