variable "name" {
  description = "Name prefix of the roles (`<name>-<enterprise>-sensor`, `<name>-<enterprise>-consumer`)."
  type        = string
}

variable "enterprises" {
  description = "The environment's tenant map: enterprise id => who may assume its sensor and consumer roles (an empty list: this account's root)."
  type = map(object({
    sensor_principals   = optional(list(string), [])
    consumer_principals = optional(list(string), [])
  }))
}

variable "landing_bucket_arn" {
  description = "The landing bucket: each enterprise's sensors write under messages/enterprise=<id>/ only."
  type        = string
}

variable "landing_prefix" {
  description = "Prefix of sensor drops in the landing bucket (trustpipe.layout.LANDING_PREFIX)."
  type        = string
  default     = "messages/"
}

variable "action_queue_arns" {
  description = "Each enterprise's action queue ARN, by enterprise id (the alerting module's)."
  type        = map(string)
}

variable "action_queue_urls" {
  description = "Each enterprise's action queue URL, by enterprise id (where its queue policy goes)."
  type        = map(string)
}

variable "alert_topic_arns" {
  description = "Each enterprise's alert topic ARN, by enterprise id."
  type        = map(string)
}

variable "sender_role_arns" {
  description = "The only principals that may send to the action queues and publish to the alert topics (the alerters' roles); empty: no such restriction."
  type        = list(string)
  default     = []
}

variable "frontdoor_execution_arn" {
  description = "Execution ARN of the stream front door's HTTP API (the ingest module's `execution_arn`); null: no stream path for sensors."
  type        = string
  default     = null
}

variable "frontdoor_route" {
  description = "The front door's route the sensors POST batches to, as `<METHOD>/<path>` of an execute-api ARN."
  type        = string
  default     = "POST/records"
}

variable "kms_key_arn" {
  description = "The pipeline's KMS key (landing objects, queues); null when the services' own keys are used."
  type        = string
  default     = null
}

variable "max_session_duration" {
  description = "Longest session (seconds) a sensor or consumer may hold on its role (IAM allows 3600-43200)."
  type        = number
  default     = 3600
}

variable "tags" {
  description = "Tags for every resource."
  type        = map(string)
  default     = {}
}
