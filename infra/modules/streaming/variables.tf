variable "name" {
  description = "Name prefix of the streams."
  type        = string
}

variable "raw_shard_count" {
  description = "Shards of the raw stream (sensors -> scorers); the scorer ASG is sized from it."
  type        = number
  default     = 2
}

variable "scored_shard_count" {
  description = "Shards of the scored stream (scorers -> importers and alerters)."
  type        = number
  default     = 2
}

variable "imported_shard_count" {
  description = "Shards of the imported stream (stream importers -> alerters)."
  type        = number
  default     = 1
}

variable "retention_period_hours" {
  description = "How long records stay readable (24 h minimum; longer lets consumers recover from longer outages)."
  type        = number
  default     = 24
}

variable "kms_key_arn" {
  description = "KMS key for the streams and the archive. When null the streams are not encrypted."
  type        = string
  default     = null
}

variable "create_archive" {
  description = "Archive the raw stream into the data lake with Firehose (needs archive_bucket_arn)."
  type        = bool
  default     = true
}

variable "archive_bucket_arn" {
  description = "Data-lake bucket Firehose archives the raw stream into."
  type        = string
  default     = null
}

variable "archive_prefix" {
  description = "Key prefix of the raw stream's archive in that bucket."
  type        = string
  default     = "raw_stream/"
}

variable "tags" {
  description = "Tags for every resource."
  type        = map(string)
  default     = {}
}
