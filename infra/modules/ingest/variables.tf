variable "name" {
  description = "Name prefix of the front door's resources."
  type        = string
}

variable "raw_stream_name" {
  description = "The raw Kinesis stream the front door puts records on."
  type        = string
}

variable "raw_stream_arn" {
  description = "ARN of the raw stream: the Lambda's only PutRecords grant."
  type        = string
}

variable "sensor_role_arns" {
  description = "Each enterprise's sensor role ARN (the tenant map's): who may POST, and the enterprise its records are stamped with."
  type        = map(string)
  default     = {}
}

variable "config_bucket" {
  description = "Bucket the Lambda's configuration object (raw stream, sensor roles) is written to (the archive bucket)."
  type        = string
}

variable "lambda_zip_path" {
  description = "Deployment zip built by `make lambda` (build/frontdoor-lambda.zip)."
  type        = string
}

variable "lambda_runtime" {
  description = "Python runtime of the Lambda."
  type        = string
  default     = "python3.11"
}

variable "lambda_memory_mb" {
  description = "Lambda memory (a 10 MB request is parsed and base64-decoded in it)."
  type        = number
  default     = 512
}

variable "lambda_reserved_concurrency" {
  description = "Most concurrent executions of the front door's Lambda (sensors post about once a second each)."
  type        = number
  default     = 100
}

variable "lambda_timeout_seconds" {
  description = "Lambda timeout; API Gateway HTTP APIs give up after 30 s."
  type        = number
  default     = 15
}

variable "throttle_rate_limit" {
  description = "Steady-state requests per second the API accepts (one per sensor per second)."
  type        = number
  default     = 500
}

variable "throttle_burst_limit" {
  description = "Burst of requests the API accepts (sensors resending after an outage)."
  type        = number
  default     = 1000
}

variable "log_retention_days" {
  description = "Days the Lambda's and the API's logs are kept."
  type        = number
  default     = 365
}

variable "alarm_actions" {
  description = "SNS topics told when a front-door alarm fires or clears (the on-call topic)."
  type        = list(string)
  default     = []
}

variable "runbook_base_url" {
  description = "Where docs/runbooks/ is published; alarm descriptions link <base>/ingest-front-door.md."
  type        = string
  default     = "docs/runbooks"
}

variable "kms_key_arn" {
  description = "Customer-managed KMS key of the raw stream, the config object and the logs. When null AWS-owned keys are used."
  type        = string
  default     = null
}

variable "tags" {
  description = "Tags for every resource."
  type        = map(string)
  default     = {}
}
