output "vpc_id" {
  description = "ID of the VPC."
  value       = try(aws_vpc.this.id, null)
}

output "private_subnet_ids" {
  description = "Private subnets, one per availability zone."
  value       = try(aws_subnet.private[*].id, null)
}

output "cidr_block" {
  description = "The VPC's address range."
  value       = try(aws_vpc.this.cidr_block, null)
}

output "gateway_prefix_list_ids" {
  description = "Prefix lists of the S3 and DynamoDB gateway endpoints (for security-group egress)."
  value       = try([for e in aws_vpc_endpoint.gateway : e.prefix_list_id], null)
}

output "interface_endpoint_ids" {
  description = "Interface endpoint IDs by service (execute-api: what the private schema registry's policy admits)."
  value       = try({ for service, e in aws_vpc_endpoint.interface : service => e.id }, {})
}
