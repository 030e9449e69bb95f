output "table_name" {
  description = "DynamoDB table of the schema registry."
  value       = try(aws_dynamodb_table.this.name, null)
}

output "table_arn" {
  description = "ARN of the schema registry's table."
  value       = try(aws_dynamodb_table.this.arn, null)
}

output "api_url" {
  description = "Base URL of the registry: its private REST API's stage, reachable through the VPC's execute-api endpoint (requests must be SigV4-signed)."
  value       = try(aws_api_gateway_stage.this[0].invoke_url, null)
}

output "api_execution_arn" {
  description = "Execution ARN of the API, for granting execute-api:Invoke to producers and consumers."
  value       = try(aws_api_gateway_rest_api.this[0].execution_arn, null)
}

output "function_name" {
  description = "Name of the registry Lambda."
  value       = try(aws_lambda_function.this[0].function_name, null)
}

output "alarm_names" {
  description = "CloudWatch alarms on the registry."
  value       = try([for alarm in aws_cloudwatch_metric_alarm.this : alarm.alarm_name], [])
}
