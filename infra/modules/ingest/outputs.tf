output "api_endpoint" {
  description = "Base URL of the front door (sensors POST SigV4-signed batches to <api_endpoint>/records)."
  value       = try(aws_apigatewayv2_api.this.api_endpoint, null)
}

output "execution_arn" {
  description = "Execution ARN of the API (execute-api:Invoke grants name it)."
  value       = try(aws_apigatewayv2_api.this.execution_arn, null)
}

output "function_name" {
  description = "Name of the front door's Lambda."
  value       = try(aws_lambda_function.this.function_name, null)
}

output "alarm_names" {
  description = "CloudWatch alarms on the front door."
  value       = try([for alarm in aws_cloudwatch_metric_alarm.this : alarm.alarm_name], [])
}
