output "endpoint" {
  description = "host:port of the database."
  value       = try(aws_db_instance.this.endpoint, null)
}

output "instance_id" {
  description = "Identifier of the instance (alarm dimension)."
  value       = try(aws_db_instance.this.identifier, null)
}

output "master_secret_arn" {
  description = "Secrets Manager secret with the master credentials (managed by RDS)."
  value       = try(aws_db_instance.this.master_user_secret[0].secret_arn, null)
}

output "security_group_id" {
  description = "The database's security group."
  value       = try(aws_security_group.this.id, null)
}

output "resource_id" {
  description = "The instance's resource id (the rds-db:connect ARNs of IAM database authentication name it)."
  value       = try(aws_db_instance.this.resource_id, null)
}
