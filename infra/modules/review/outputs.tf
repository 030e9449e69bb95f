output "api_url" {
  description = "Base URL of the review API (every request carries a pool ID token: Authorization: Bearer <token>)."
  value       = try(aws_apigatewayv2_api.this.api_endpoint, null)
}

output "execution_arn" {
  description = "Execution ARN of the API."
  value       = try(aws_apigatewayv2_api.this.execution_arn, null)
}

output "user_pool_id" {
  description = "The Cognito user pool of the enterprises' reviewers."
  value       = try(aws_cognito_user_pool.this.id, null)
}

output "user_pool_issuer" {
  description = "The pool's token issuer (the JWT authorizer's issuer)."
  value       = try("https://${aws_cognito_user_pool.this.endpoint}", null)
}

output "client_id" {
  description = "The review page's app client (no secret; password, SRP and refresh tokens): the ID tokens' audience."
  value       = try(aws_cognito_user_pool_client.this.id, null)
}

output "function_name" {
  description = "The review function."
  value       = try(aws_lambda_function.this.function_name, null)
}

output "role_arn" {
  description = "The function's role (the search domain maps it to its reader-writer role)."
  value       = try(aws_iam_role.this.arn, null)
}

output "security_group_id" {
  description = "The function's security group (the database and the search domain admit it)."
  value       = try(aws_security_group.this.id, null)
}

output "alarm_names" {
  description = "5xx, 4xx, p99 latency, function errors and throttles (each links its runbook)."
  value       = try([for a in aws_cloudwatch_metric_alarm.this : a.alarm_name], [])
}
