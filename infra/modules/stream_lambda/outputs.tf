output "function_name" {
  description = "The stage's function."
  value       = try(aws_lambda_function.this.function_name, null)
}

output "event_source_mapping_uuid" {
  description = "Its Kinesis event source mapping."
  value       = try(aws_lambda_event_source_mapping.this.uuid, null)
}

output "role_arn" {
  description = "The function's role (the mapping acts as it too)."
  value       = try(aws_iam_role.this.arn, null)
}

output "alarm_names" {
  description = "Iterator age, errors, throttles and on-failure deliveries."
  value       = try([for a in aws_cloudwatch_metric_alarm.this : a.alarm_name], null)
}
