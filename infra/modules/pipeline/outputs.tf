# The services' settings: `terraform output -json settings` is a trustpipe settings file.
output "settings" {
  description = "Settings of the services (trustpipe.settings.Settings as JSON)."
  value       = local.settings
}

output "dag_bucket" {
  description = "Bucket the DAGs are deployed to."
  value       = module.orchestration.dag_bucket
}

output "emr" {
  description = "The hourly DAG's `emr` configuration (Variable trustpipe_pipeline)."
  value = {
    service_role           = module.emr.service_role_name
    job_flow_role          = module.emr.instance_profile_name
    security_configuration = module.emr.security_configuration_name
    log_uri                = module.emr.log_uri
    subnet_ids             = module.network.private_subnet_ids
    code_uri               = "s3://${module.data_lake.archive_bucket}/code"
  }
}

output "dashboard_name" {
  description = "CloudWatch dashboard of the pipeline."
  value       = module.monitoring.dashboard_name
}

output "alarm_names" {
  description = "Every alarm that pages on-call."
  value       = concat(module.monitoring.alarm_names, module.schema_registry.alarm_names)
}
