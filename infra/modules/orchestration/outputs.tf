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

output "host_secret_arn" {
  description = "Secret holding Airflow's fernet key, JWT secret, API session key and admin credentials."
  value       = try(aws_secretsmanager_secret.host.arn, null)
}

output "models_role_arn" {
  description = "Role the nightly build assumes to write models/ (the execution role cannot)."
  value       = try(aws_iam_role.models.arn, null)
}

output "hourly_start" {
  description = "The hourly DAG's first hour (the first apply's, kept by every later one)."
  value       = try(aws_ssm_parameter.hourly_start.insecure_value, null)
}
