output "domain_name" {
  description = "The OpenSearch domain's name (the AWS/ES metrics' DomainName)."
  value       = try(aws_opensearch_domain.this.domain_name, null)
}

output "domain_arn" {
  description = "The domain's ARN (IAM policies grant es:ESHttp* on <arn>/*)."
  value       = try(aws_opensearch_domain.this.arn, null)
}

output "url" {
  description = "The domain's HTTPS endpoint inside the VPC (the pipeline publishes it in an SSM parameter for the services)."
  value       = try("https://${aws_opensearch_domain.this.endpoint}", null)
}

output "security_group_id" {
  description = "The domain's security group (443 from its clients only)."
  value       = try(aws_security_group.this.id, null)
}

output "admin_role_arn" {
  description = "Fine-grained access control's master role: assumed to apply the template, the ISM policy and the role mappings."
  value       = try(aws_iam_role.admin.arn, null)
}

output "ism_policy_id" {
  description = "The retention policy's id: PUT _plugins/_ism/policies/<id> with ism_policy as the body."
  value       = local.ism_policy_id
}

output "ism_policy" {
  description = "The retention policy (ISM) as JSON, rendered from ism_policy.json.tftpl."
  value       = local.setup_requests[0].body
}

output "setup_requests" {
  description = "What the master role PUTs once inside the domain, in order (path, JSON body): the ISM retention policy, and fine-grained access control's roles for the writers and readers with their IAM role mappings."
  value       = local.setup_requests
}

output "index_prefix" {
  description = "Daily indices are <prefix>-YYYY.MM.DD behind the read alias <prefix>."
  value       = var.index_prefix
}

output "alarm_names" {
  description = "The domain's alarms (each links its runbook)."
  value       = try([for a in aws_cloudwatch_metric_alarm.this : a.alarm_name], [])
}
