output "url" {
  description = "The counters' URL for the settings (redis_url): TLS, the IAM-authenticated user, the primary endpoint."
  value       = try("rediss://${aws_elasticache_user.this.user_name}@${aws_elasticache_replication_group.this.primary_endpoint_address}:${var.port}/0", null)
}

output "replication_group_id" {
  description = "The replication group's id (the IAM authentication token is signed for it)."
  value       = try(aws_elasticache_replication_group.this.id, null)
}

output "security_group_id" {
  description = "The cache's security group."
  value       = try(aws_security_group.this.id, null)
}

output "connect_policy_json" {
  description = "The IAM policy that lets a role connect as the counters' user."
  value       = try(data.aws_iam_policy_document.connect.json, null)
}
