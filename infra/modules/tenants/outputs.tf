output "sensor_role_arns" {
  description = "Each enterprise's sensor role, by enterprise id."
  value       = try({ for id in keys(var.enterprises) : id => aws_iam_role.this["${id}/sensor"].arn }, {})
}

output "consumer_role_arns" {
  description = "Each enterprise's consumer role, by enterprise id."
  value       = try({ for id in keys(var.enterprises) : id => aws_iam_role.this["${id}/consumer"].arn }, {})
}

output "tenants" {
  description = "Each enterprise's own resources (the settings' `tenants`): its roles, its action queue and alert topic."
  value = try({
    for id in keys(var.enterprises) : id => {
      sensor_role_arn   = aws_iam_role.this["${id}/sensor"].arn
      consumer_role_arn = aws_iam_role.this["${id}/consumer"].arn
      action_queue_url  = var.action_queue_urls[id]
      alert_topic_arn   = var.alert_topic_arns[id]
    }
  }, {})
}
