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

variable "tags" {
  description = "Tags for every resource."
  type        = map(string)
  default     = {}
}
