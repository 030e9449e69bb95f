# The services' settings: `terraform output -json settings` is a trustpipe settings file.
output "settings" {
  description = "Settings of the services (trustpipe.settings.Settings as JSON)."
  value       = local.settings
}

output "dag_bucket" {
  description = "Bucket the DAGs are deployed to."
  value       = one(module.orchestration[*].dag_bucket)
}

output "emr" {
  description = "The hourly DAG's `emr` configuration (Variable trustpipe_pipeline)."
  value = var.enable_emr ? {
    service_role           = one(module.emr[*].service_role_name)
    job_flow_role          = one(module.emr[*].instance_profile_name)
    security_configuration = one(module.emr[*].security_configuration_name)
    log_uri                = one(module.emr[*].log_uri)
    subnet_ids             = module.network.private_subnet_ids
    code_uri               = "s3://${module.data_lake.archive_bucket}/code"
  } : null
}

output "dashboard_name" {
  description = "CloudWatch dashboard of the pipeline."
  value       = module.monitoring.dashboard_name
}

output "alarm_names" {
  description = "Every alarm that pages on-call."
  value       = concat(module.monitoring.alarm_names, module.schema_registry.alarm_names)
}

output "registry" {
  description = "The schema registry: API endpoint, function and table."
  value = {
    api_endpoint  = module.schema_registry.api_endpoint
    function_name = module.schema_registry.function_name
    table_name    = module.schema_registry.table_name
  }
}
