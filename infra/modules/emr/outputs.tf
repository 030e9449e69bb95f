output "service_role_name" {
  description = "EMR service role (the DAG's emr.service_role)."
  value       = try(aws_iam_role.service.name, null)
}

output "instance_profile_name" {
  description = "EC2 instance profile of cluster nodes (the DAG's emr.job_flow_role)."
  value       = try(aws_iam_instance_profile.instance.name, null)
}

output "security_configuration_name" {
  description = "Security configuration every cluster uses."
  value       = try(aws_emr_security_configuration.this.name, null)
}

output "log_uri" {
  description = "Where clusters write their logs."
  value       = try("s3://${module.logs.id}/clusters/", null)
}

output "service_role_arn" {
  description = "ARN of the EMR service role (Airflow passes it)."
  value       = try(aws_iam_role.service.arn, null)
}

output "instance_role_arn" {
  description = "ARN of the cluster nodes' role (Airflow passes it)."
  value       = try(aws_iam_role.instance.arn, null)
}

output "cluster_security_group_id" {
  description = "The clusters' own security group (the DAG's emr.additional_security_group_ids), for services to admit."
  value       = try(aws_security_group.cluster.id, null)
}

output "instance_role_name" {
  description = "Name of the cluster nodes' role (grants such as the counters' elasticache:Connect)."
  value       = try(aws_iam_role.instance.name, null)
}
