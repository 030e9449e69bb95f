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
  value       = local.emr
}

output "code" {
  description = "Where the apply put the code: the DAG bundle's prefix, the EMR code prefix, every object."
  value = var.enable_orchestration ? {
    dag_uri     = one(module.code[*].dag_uri)
    code_uri    = one(module.code[*].code_uri)
    object_keys = one(module.code[*].object_keys)
  } : null
}

output "airflow" {
  description = "The Airflow host: its ASG (Session Manager reaches it) and where its Variables and Connections live."
  value = var.enable_orchestration ? {
    asg_name         = one(module.orchestration[*].asg_name)
    parameter_prefix = one(module.orchestration[*].parameter_prefix)
    host_secret_arn  = one(module.orchestration[*].host_secret_arn)
    models_role_arn  = one(module.orchestration[*].models_role_arn)
    hourly_start     = one(module.orchestration[*].hourly_start)
  } : null
}

output "dashboard_name" {
  description = "CloudWatch dashboard of the pipeline."
  value       = module.monitoring.dashboard_name
}

output "alarm_names" {
  description = "Every alarm that pages on-call."
  value       = concat(module.monitoring.alarm_names, module.schema_registry.alarm_names, module.ingest.alarm_names, flatten(module.search[*].alarm_names), flatten(module.review[*].alarm_names))
}

output "frontdoor" {
  description = "The stream's ingestion front door: API endpoint, execution ARN, function."
  value = {
    api_endpoint  = module.ingest.api_endpoint
    execution_arn = module.ingest.execution_arn
    function_name = module.ingest.function_name
  }
}

output "registry" {
  description = "The schema registry: its private API's URL, function and table."
  value = {
    api_url       = module.schema_registry.api_url
    function_name = module.schema_registry.function_name
    table_name    = module.schema_registry.table_name
  }
}

output "search" {
  description = "The search domain: its URL (published in the SSM parameter the services' settings name: search_url_parameter), the master role, and what it PUTs once inside the domain (docs/deploy.md)."
  value = var.enable_search ? {
    url            = one(module.search[*].url)
    domain_name    = one(module.search[*].domain_name)
    admin_role_arn = one(module.search[*].admin_role_arn)
    index_prefix   = one(module.search[*].index_prefix)
    ism_policy_id  = one(module.search[*].ism_policy_id)
    ism_policy     = one(module.search[*].ism_policy)
    setup_requests = one(module.search[*].setup_requests)
  } : null
}

output "review" {
  description = "The review API: its URL, the user pool and the review page's app client (no secret), the function."
  value = var.enable_review ? {
    api_url       = one(module.review[*].api_url)
    user_pool_id  = one(module.review[*].user_pool_id)
    issuer        = one(module.review[*].user_pool_issuer)
    client_id     = one(module.review[*].client_id)
    function_name = one(module.review[*].function_name)
  } : null
}
