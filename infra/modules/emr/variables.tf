variable "name" {
  description = "Name prefix of the EMR roles and security configuration."
  type        = string
}

variable "bucket_prefix" {
  description = "Prefix of the log bucket's name (<prefix>-emr-logs)."
  type        = string
}

variable "kms_key_arn" {
  description = "The pipeline's KMS key."
  type        = string
}

variable "landing_bucket_arn" {
  description = "Landing bucket (read; unreadable objects moved to set_aside/)."
  type        = string
}

variable "scored_bucket_arn" {
  description = "Scored bucket (written)."
  type        = string
}

variable "archive_bucket_arn" {
  description = "Archive bucket (models/ and code/ read)."
  type        = string
}

variable "log_days" {
  description = "Days cluster logs are kept."
  type        = number
  default     = 30
}

variable "enforce_tls" {
  description = "Deny plain-HTTP access to the module's bucket (off only against the plain-HTTP moto server)."
  type        = bool
  default     = true
}

variable "force_destroy" {
  description = "Allow destroying the log bucket with objects in it."
  type        = bool
  default     = false
}

variable "vpc_id" {
  description = "The VPC the clusters launch in: their group of their own (cluster_security_group_id) is made there."
  type        = string
}

variable "tags" {
  description = "Tags for every resource."
  type        = map(string)
  default     = {}
}
