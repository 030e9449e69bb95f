variable "bucket_prefix" {
  description = "Prefix of the three bucket names (<prefix>-landing, -scored, -archive). Bucket names are global: include the account id on real AWS."
  type        = string
}

variable "kms_key_arn" {
  description = "KMS key for SSE-KMS. When null the buckets use SSE-S3 (AES256)."
  type        = string
  default     = null
}

variable "force_destroy" {
  description = "Let terraform destroy non-empty buckets (local and dev stacks only)."
  type        = bool
  default     = false
}

variable "create_scored_notification" {
  description = "Send an event for every scored object to scored_notification_topic_arn (the importers' trigger)."
  type        = bool
  default     = true
}

variable "scored_notification_topic_arn" {
  description = "SNS topic told about every scored object. Required when create_scored_notification is true."
  type        = string
  default     = null
}

variable "scored_notification_prefix" {
  description = "Key prefix of the scored objects that trigger the notification."
  type        = string
  default     = "scored/"
}

variable "scored_notification_suffix" {
  description = "Key suffix of the scored objects that trigger the notification."
  type        = string
  default     = ".avro"
}

variable "landing_days" {
  description = "Days landing files are kept (hours older than this can no longer be re-scored)."
  type        = number
  default     = 400
}

variable "scored_days" {
  description = "Days scored output is kept in S3 (PostgreSQL keeps the verdicts)."
  type        = number
  default     = 90
}

variable "infrequent_access_after_days" {
  description = "Days before objects move to STANDARD_IA."
  type        = number
  default     = 30
}

variable "archive_glacier_after_days" {
  description = "Days before archive objects move to Glacier Instant Retrieval."
  type        = number
  default     = 180
}

variable "noncurrent_version_days" {
  description = "Days a replaced or deleted object's old version is kept (rerun safety net)."
  type        = number
  default     = 14
}

variable "access_log_bucket" {
  description = "Bucket receiving S3 server access logs (null: no access logging)."
  type        = string
  default     = null
}

variable "enforce_tls" {
  description = "Deny every request not made over TLS (bucket policy). Only a plain-HTTP AWS stand-in (the local moto server) turns it off."
  type        = bool
  default     = true
}

variable "tags" {
  description = "Tags for every resource."
  type        = map(string)
  default     = {}
}
