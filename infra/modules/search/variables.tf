variable "name" {
  description = "Name prefix of every resource, and the domain's name (e.g. trustpipe-prod)."
  type        = string

  validation {
    # OpenSearch Service: 3-28 characters, lower-case letters, digits and hyphens, a letter first.
    condition     = can(regex("^[a-z][a-z0-9-]{2,27}$", var.name))
    error_message = "The domain name must be 3-28 lower-case letters, digits and hyphens, starting with a letter."
  }
}

variable "vpc_id" {
  description = "The VPC the domain's network interfaces live in."
  type        = string
}

variable "subnet_ids" {
  description = "Private subnets, one per availability zone; the domain takes the first instance_count (at most 3)."
  type        = list(string)
}

variable "client_security_group_ids" {
  description = "Who may reach the domain on 443: a name (indexer, airflow...) => its security group id. The keys must be known at plan time."
  type        = map(string)
  default     = {}
}

variable "kms_key_arn" {
  description = "The pipeline's KMS key: encryption at rest of the domain and of its log groups."
  type        = string
}

variable "engine_version" {
  description = "OpenSearch engine version."
  type        = string
  default     = "OpenSearch_2.19"
}

variable "instance_type" {
  description = "Data node instance type (trustpipe cost estimate prices it)."
  type        = string
  default     = "m6g.large.search"
}

variable "instance_count" {
  description = "Data nodes, one per availability zone (2: a replica of every shard survives a zone)."
  type        = number
  default     = 2

  validation {
    condition     = var.instance_count >= 1 && var.instance_count <= 3
    error_message = "instance_count is 1, 2 or 3 (one node per availability zone)."
  }
}

variable "volume_size_gb" {
  description = "gp3 EBS volume per data node, in GiB."
  type        = number
  default     = 20
}

variable "writer_role_arns" {
  description = "Roles that index (the indexer's instance role): es:ESHttpGet/Head/Post/Put/Delete on the domain's paths."
  type        = list(string)
  default     = []
}

variable "reader_role_arns" {
  description = "Roles that only search (the Airflow host's reconciliation): es:ESHttpGet/Head/Post."
  type        = list(string)
  default     = []
}

variable "reviewer_role_arns" {
  description = "Roles that search and update a document's review fields (the review API's function): es:ESHttpGet/Head/Post, and inside the domain read plus update."
  type        = list(string)
  default     = []
}

variable "admin_principal_arns" {
  description = "Who may assume the fine-grained access control master role besides this account's administrators (the indexer's role, which applies the index template, the ISM policy and the role mappings)."
  type        = list(string)
  default     = []
}

variable "index_prefix" {
  description = "Daily indices are <index_prefix>-YYYY.MM.DD; the read alias is <index_prefix>."
  type        = string
  default     = "trustpipe-messages"
}

variable "retention_days" {
  description = "Days a daily index is kept before the ISM policy deletes it."
  type        = number
  default     = 90
}

variable "log_retention_days" {
  description = "Days the domain's slow and error logs are kept in CloudWatch Logs."
  type        = number
  default     = 365
}

variable "jvm_memory_pressure_threshold" {
  description = "JVMMemoryPressure (percent) that pages when reached for 3 minutes (AWS recommends 95)."
  type        = number
  default     = 95
}

variable "free_storage_fraction" {
  description = "Page when a node's FreeStorageSpace falls to this fraction of its volume (AWS recommends 25 %)."
  type        = number
  default     = 0.25
}

variable "alarm_actions" {
  description = "Topics the alarms notify (the on-call topic)."
  type        = list(string)
  default     = []
}

variable "runbook_base_url" {
  description = "Where docs/runbooks/ is published (alarm descriptions link it)."
  type        = string
  default     = "https://github.com/trustpipe/trustpipe/blob/main/docs/runbooks"
}

variable "create_timeout" {
  description = "How long apply waits for the domain to be created (AWS takes 15-30 minutes for a VPC domain)."
  type        = string
  default     = "60m"
}

variable "tags" {
  description = "Tags for every resource."
  type        = map(string)
  default     = {}
}
