variable "name" {
  description = "Name prefix of the queues, topics and table."
  type        = string
}

variable "enterprises" {
  description = "Ids of the enterprises served (the tenant map's keys): each gets its action queue and its users' alert topic."
  type        = set(string)
}

variable "message_retention_seconds" {
  description = "How long an action waits for the enterprise's mail system (SQS maximum is 14 days)."
  type        = number
  default     = 1209600
}

variable "kms_key_arn" {
  description = "KMS key for the queues, topics and table; null uses the services' own keys."
  type        = string
  default     = null
}

variable "tags" {
  description = "Tags for every resource."
  type        = map(string)
  default     = {}
}
