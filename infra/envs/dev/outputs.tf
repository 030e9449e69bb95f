output "settings" {
  description = "The services' settings file (terraform output -json settings > settings.json)."
  value       = module.pipeline.settings
}

output "dag_bucket" {
  description = "The bucket the DAG bundle reads (the apply uploads dags/ to it)."
  value       = module.pipeline.dag_bucket
}

output "code" {
  description = "What the apply uploaded, and where."
  value       = module.pipeline.code
}

output "airflow" {
  description = "The Airflow host's ASG and its Parameter Store prefix."
  value       = module.pipeline.airflow
}

output "oncall_topic_arn" {
  description = "The on-call topic (its e-mail subscriptions must be confirmed)."
  value       = module.pipeline.settings.oncall_topic_arn
}

output "emr" {
  description = "The hourly DAG's emr configuration."
  value       = module.pipeline.emr
}

output "alarm_names" {
  description = "Alarms that page on-call."
  value       = module.pipeline.alarm_names
}

output "search" {
  description = "The search domain: URL, master role, and the ISM retention policy to PUT once (docs/deploy.md)."
  value       = module.pipeline.search
}

output "review" {
  description = "The review API: its URL, the user pool and the review page's app client id (users are created in the pool with their custom:enterprise and custom:role; docs/deploy.md)."
  value       = module.pipeline.review
}
