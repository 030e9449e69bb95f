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

variable "hourly_due_seconds" {
  description = "An hour's verified output is due this long after the hour closes."
  type        = number
  default     = 900
}

variable "tags" {
  description = "Tags on every resource."
  type        = map(string)
  default     = {}
}
