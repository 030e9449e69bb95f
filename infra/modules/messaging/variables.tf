variable "name" {
  description = "Name prefix of the topic and queues."
  type        = string
}

variable "publisher_bucket_arns" {
  description = "S3 buckets allowed to publish object events to the topic."
  type        = list(string)
}

variable "visibility_timeout_seconds" {
  description = "How long a received notification stays invisible; importers extend it while a long import runs."
  type        = number
  default     = 300
}

variable "max_receive_count" {
  description = "Receives before a notification moves to the DLQ (transient failures retried this often)."
  type        = number
  default     = 5
}

variable "message_retention_seconds" {
  description = "How long undelivered notifications are kept (SQS maximum is 14 days)."
  type        = number
  default     = 1209600
}

variable "max_message_size" {
  description = "Largest accepted message in bytes; S3 event notifications can exceed 64 KiB, so keep the 256 KiB maximum."
  type        = number
  default     = 262144
}

variable "kms_key_id" {
  description = "KMS key for SNS and SQS encryption. When null SQS uses SSE-SQS and SNS is unencrypted."
  type        = string
  default     = null
}

variable "tags" {
  description = "Tags for every resource."
  type        = map(string)
  default     = {}
}
