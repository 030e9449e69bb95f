variable "name" {
  description = "Name prefix of the network's resources."
  type        = string
}

variable "cidr_block" {
  description = "The VPC's address range; each private subnet is a /20 of it (for a /16)."
  type        = string
  default     = "10.40.0.0/16"
}

variable "az_count" {
  description = "Availability zones with a private subnet (2 or more keeps workers up through an AZ outage)."
  type        = number
  default     = 2

  validation {
    condition     = var.az_count >= 2
    error_message = "Use at least 2 availability zones."
  }
}

variable "interface_endpoints" {
  description = "AWS services reached through interface endpoints (S3 and DynamoDB use gateway endpoints); execute-api carries the private schema registry. What the hosts call is checked against this list (tests/harness/reach.py)."
  type        = list(string)
  default     = ["kinesis-streams", "sqs", "sns", "logs", "monitoring", "secretsmanager", "sts", "ssm", "ec2messages", "ssmmessages", "autoscaling", "elasticmapreduce", "kms", "execute-api"]
}

variable "enable_flow_logs" {
  description = "Log rejected traffic to CloudWatch Logs."
  type        = bool
  default     = true
}

variable "kms_key_arn" {
  description = "KMS key for the flow-log group."
  type        = string
  default     = null
}

variable "log_retention_days" {
  description = "Days flow logs are kept."
  type        = number
  default     = 365
}

variable "tags" {
  description = "Tags for every resource."
  type        = map(string)
  default     = {}
}
