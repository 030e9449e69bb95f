output "settings" {
  description = "The services' settings file (terraform output -json settings > settings.json)."
  value       = module.pipeline.settings
}

output "dag_bucket" {
  description = "Where `make deploy-dags` copies dags/."
  value       = module.pipeline.dag_bucket
}

output "emr" {
  description = "The hourly DAG's emr configuration."
  value       = module.pipeline.emr
}

output "alarm_names" {
  description = "Alarms that page on-call."
  value       = module.pipeline.alarm_names
}
