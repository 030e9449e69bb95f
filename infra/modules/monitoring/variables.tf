variable "name" {
  description = "Name prefix of the monitoring resources."
  type        = string
}

variable "alert_emails" {
  description = "Addresses subscribed to the on-call topic (each confirms by email)."
  type        = list(string)
  default     = []
}

variable "runbook_base_url" {
  description = "Where docs/runbooks/ is published; every alarm description links <base>/<alarm>.md."
  type        = string
  default     = "https://github.com/trustpipe/trustpipe/blob/main/docs/runbooks"
}

variable "hourly_dag_id" {
  description = "The hourly scoring DAG whose delay metric the deadline alarm watches."
  type        = string
  default     = "message_scoring_hourly"
}

variable "model_dag_id" {
  description = "The nightly model build DAG whose holdout AUC the dashboard charts."
  type        = string
  default     = "model_build_nightly"
}

variable "registry_service" {
  description = "The schema registry's Service dimension (trustpipe/registry metrics)."
  type        = string
  default     = "schema-registry"
}

variable "hourly_due_seconds" {
  description = "An hour's verified output is due this long after the hour closes."
  type        = number
  default     = 900
}

variable "kms_key_arn" {
  description = "KMS key of the on-call topic (its key policy must let CloudWatch use it)."
  type        = string
  default     = null
}

variable "importer_queue_name" {
  description = "Importer queue (age alarm; null: no queue alarms)."
  type        = string
  default     = null
}

variable "importer_dlq_name" {
  description = "Importer dead-letter queue (depth alarm)."
  type        = string
  default     = null
}

variable "search_dlq_name" {
  description = "The search indexer's dead-letter queue (depth alarm; null: none)."
  type        = string
  default     = null
}

variable "importer_max_age_seconds" {
  description = "Page when the oldest importer message is older than this."
  type        = number
  default     = 900
}

variable "stream_names" {
  description = "Kinesis streams whose consumers' iterator age is watched."
  type        = list(string)
  default     = []
}

variable "iterator_age_seconds" {
  description = "Page when consumers fall further behind than this."
  type        = number
  default     = 60
}

variable "worker_services" {
  description = "Worker services whose error rate is watched (trustpipe/workers metrics)."
  type        = list(string)
  default     = ["scorer", "importer", "alerter"]
}

variable "worker_silent_minutes" {
  description = "Page when a worker service has sent no heartbeat in this many of the last 5 minutes (each running worker beats at least every 30 s)."
  type        = number
  default     = 3
}

variable "worker_error_rate" {
  description = "Page above this share of failed records."
  type        = number
  default     = 0.01
}

variable "db_instance_id" {
  description = "RDS instance whose storage and CPU are watched (null: none)."
  type        = string
  default     = null
}

variable "db_min_free_storage_gb" {
  description = "Page below this much free database storage."
  type        = number
  default     = 10
}

variable "db_max_cpu_percent" {
  description = "Page above this database CPU."
  type        = number
  default     = 80
}

variable "tags" {
  description = "Tags on every resource."
  type        = map(string)
  default     = {}
}

variable "counters_drift_ratio" {
  description = "The counters' drift (worst relative difference of a sampled online tile against the store's exact count) over which on-call is paged."
  type        = number
  default     = 0.05
}
