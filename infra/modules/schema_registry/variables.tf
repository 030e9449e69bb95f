variable "name" {
  description = "Name prefix of the registry's resources."
  type        = string
}

variable "create_api" {
  description = "Create the Lambda and its private API Gateway REST API (false: only the table, for stacks that serve the registry elsewhere)."
  type        = bool
  default     = true
}

variable "lambda_zip_path" {
  description = "Deployment zip built by `make lambda` (build/schema-registry-lambda.zip). Required when create_api is true."
  type        = string
  default     = null
}

variable "vpc_endpoint_ids" {
  description = "The execute-api interface endpoints the private API is reached through (the network module's); the API's policy refuses every other way in. Required when create_api is true."
  type        = list(string)
  default     = []
}

variable "stage_name" {
  description = "The API's stage: the registry's URL is https://<api id>.execute-api.<region>.amazonaws.com/<stage>."
  type        = string
  default     = "registry"
}

variable "manage_account_logging_role" {
  description = "Create API Gateway's CloudWatch Logs role and set it in the account's API Gateway settings (one per account and region; false where another stack manages it)."
  type        = bool
  default     = true
}

variable "lambda_runtime" {
  description = "Python runtime of the Lambda."
  type        = string
  default     = "python3.11"
}

variable "lambda_memory_mb" {
  description = "Lambda memory; CPU scales with it, and schema parsing is CPU-bound."
  type        = number
  default     = 512
}

variable "lambda_reserved_concurrency" {
  description = "Most concurrent executions of the registry Lambda."
  type        = number
  default     = 50
}

variable "lambda_timeout_seconds" {
  description = "Lambda timeout; API Gateway's integration timeout is 29 s."
  type        = number
  default     = 10
}

variable "throttle_rate_limit" {
  description = "Steady-state requests per second the API accepts (clients cache schemas, so this stays low)."
  type        = number
  default     = 200
}

variable "throttle_burst_limit" {
  description = "Burst of requests the API accepts (a fleet of consumers starting at once)."
  type        = number
  default     = 400
}

variable "log_retention_days" {
  description = "Days the Lambda's logs are kept."
  type        = number
  default     = 365
}

variable "alarm_actions" {
  description = "SNS topics told when a registry alarm fires or clears (the on-call topic)."
  type        = list(string)
  default     = []
}

variable "runbook_base_url" {
  description = "Where docs/runbooks/ is published; alarm descriptions link <base>/<alarm>.md."
  type        = string
  default     = "docs/runbooks"
}

variable "kms_key_arn" {
  description = "Customer-managed KMS key for the table and logs. When null AWS-owned keys are used."
  type        = string
  default     = null
}

variable "tags" {
  description = "Tags for every resource."
  type        = map(string)
  default     = {}
}
