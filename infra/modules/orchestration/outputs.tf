output "dag_bucket" {
  description = "Bucket the DAGs are deployed to (dags/ prefix)."
  value       = try(module.dags.id, null)
}

output "parameter_prefix" {
  description = "Parameter Store prefix of the Variables and Connections Airflow's secrets backend serves."
  value       = local.parameter_prefix
}

output "execution_role_arn" {
  description = "Role the DAG tasks run with."
  value       = try(aws_iam_role.this.arn, null)
}

output "security_group_id" {
  description = "Airflow's security group (the database admits it)."
  value       = try(aws_security_group.this.id, null)
}

output "asg_name" {
  description = "The Airflow host's Auto Scaling group (its one instance is the Session Manager target)."
  value       = try(aws_autoscaling_group.this.name, null)
}
