# Services read `settings` (through .local/settings.json), never hard-coded names.
output "settings" {
  description = "Settings of the services (trustpipe.settings.Settings as JSON); the database is the local server's."
  value       = module.pipeline.settings
}

output "registry" {
  description = "The schema registry's endpoint, function and table (locally `trustpipe registry serve` runs the same app)."
  value       = module.pipeline.registry
}

output "alarm_names" {
  description = "Alarms that page on-call."
  value       = module.pipeline.alarm_names
}
