output "dag_bucket" {
  description = "Bucket the DAGs are deployed to (dags/ prefix)."
  value       = try(module.dags.id, null)
}

output "execution_role_arn" {
  description = "Role the DAG tasks run with."
  value       = try(aws_iam_role.this.arn, null)
}

output "security_group_id" {
  description = "Airflow's security group (the database admits it)."
  value       = try(aws_security_group.this.id, null)
}
