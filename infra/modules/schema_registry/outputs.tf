output "table_name" {
  description = "DynamoDB table of the schema registry."
  value       = try(aws_dynamodb_table.this.name, null)
}

output "table_arn" {
  description = "ARN of the schema registry's table."
  value       = try(aws_dynamodb_table.this.arn, null)
}
