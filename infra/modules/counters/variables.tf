variable "name" {
  description = "Replication group id (and prefix of its companions)."
  type        = string
}

variable "vpc_id" {
  description = "VPC of the cache."
  type        = string
}

variable "subnet_ids" {
  description = "Private subnets (two or more AZs) of the subnet group."
  type        = list(string)
}

variable "client_security_group_ids" {
  description = "Security groups allowed to connect, by name (static keys: the rules are planned before the groups exist)."
  type        = map(string)
  default     = {}
}

variable "client_role_names" {
  description = "IAM roles that may connect as the counters' user (elasticache:Connect), by name."
  type        = map(string)
  default     = {}
}

variable "kms_key_arn" {
  description = "KMS key for encryption at rest."
  type        = string
}

variable "engine_version" {
  description = "Redis OSS version."
  type        = string
  default     = "7.1"
}

variable "node_type" {
  description = "Node type."
  type        = string
  default     = "cache.t4g.small"
}

variable "node_count" {
  description = "Nodes: a primary and its replicas (2 or more: automatic failover across AZs is always on)."
  type        = number
  default     = 2

  validation {
    condition     = var.node_count >= 2 && var.node_count <= 6
    error_message = "node_count must be 2 to 6 (a primary and one to five replicas: failover needs a replica)."
  }
}

variable "port" {
  description = "TCP port."
  type        = number
  default     = 6379
}

variable "alarm_actions" {
  description = "Topics the alarms notify (the on-call's)."
  type        = list(string)
  default     = []
}

variable "runbook_base_url" {
  description = "Where docs/runbooks/ is published; alarm descriptions link its counters-cache.md."
  type        = string
  default     = "https://github.com/trustpipe/trustpipe/blob/main/docs/runbooks"
}

variable "memory_percent" {
  description = "Memory use (DatabaseMemoryUsagePercentage) over which on-call is told."
  type        = number
  default     = 80
}

variable "replication_lag_seconds" {
  description = "Replica lag over which on-call is told."
  type        = number
  default     = 5
}

variable "latency_microseconds" {
  description = "p99 read latency over which on-call is told (the scorers time out at 500,000)."
  type        = number
  default     = 2000
}

variable "tags" {
  description = "Tags for every resource."
  type        = map(string)
  default     = {}
}
