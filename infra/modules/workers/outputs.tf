output "asg_names" {
  description = "Auto Scaling group per service."
  value       = try({ for k, g in aws_autoscaling_group.this : k => g.name }, null)
}

output "role_arns" {
  description = "Instance role per service."
  value       = try({ for k, r in aws_iam_role.this : k => r.arn }, null)
}

output "log_group_names" {
  description = "CloudWatch log group per service."
  value       = try({ for k, g in aws_cloudwatch_log_group.this : k => g.name }, null)
}

output "security_group_ids" {
  description = "Security group per service."
  value       = try({ for k, g in aws_security_group.this : k => g.id }, null)
}

# Not wrapped in try(): the database module counts its ingress rules by this list's length, which
# must be known when the apply is planned (try() of an unknown id is unknown as a whole).
output "database_client_security_group_ids" {
  description = "The security groups of the services that use the database (the database admits these only)."
  value       = [for k in keys(local.database_users) : aws_security_group.this[k].id]
}

output "database_users" {
  description = "The PostgreSQL role each service that uses the database logs in as."
  value       = local.database_users
}

output "policies" {
  description = "What each service's worker does (IAM policy JSON): a stage's Lambda form gets its service's."
  value       = local.policies
}

output "search_client_security_group_ids" {
  description = "The security groups of the services that use the search domain, by service (the domain admits these)."
  value       = { for k in keys(local.hosted) : k => aws_security_group.this[k].id if k == "indexer" }
}
