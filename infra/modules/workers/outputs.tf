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

output "security_group_id" {
  description = "The workers' security group (the database admits it)."
  value       = try(aws_security_group.this.id, null)
}
