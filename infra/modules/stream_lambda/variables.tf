variable "name" {
  description = "Name prefix of the function's resources."
  type        = string
}

variable "stage" {
  description = "The stream stage (trustpipe.workers.LAMBDA_STAGES: scorer, stream-importer, alerter or indexer)."
  type        = string

  validation {
    condition     = contains(["scorer", "stream-importer", "alerter", "indexer"], var.stage)
    error_message = "stage must be scorer, stream-importer, alerter or indexer."
  }
}

variable "handler" {
  description = "The handler (trustpipe_deploy.stage_lambdas.handler_of: <package>.lambda_handler.handler)."
  type        = string
}

variable "lambda_zip_path" {
  description = "The stage's zip (`make lambda`: build/<stage>-lambda.zip)."
  type        = string
}

variable "lambda_runtime" {
  description = "Lambda runtime: python3.12 (Amazon Linux 2023), which the zip's wheels are built for (trustpipe_deploy.stage_lambdas.STAGE_RUNTIME)."
  type        = string
  default     = "python3.12"
}

variable "memory_mb" {
  description = "Function memory (CPU comes with it: 1,769 MB is one vCPU)."
  type        = number
  default     = 1024
}

variable "timeout_seconds" {
  description = "Function timeout: a batch's processing with the handler's own transient retries (trustpipe_stream.lambda_batch.TRANSIENT_ATTEMPTS)."
  type        = number
  default     = 120
}

variable "reserved_concurrency" {
  description = "Reserved concurrency: at least shards x parallelization factor, so no batch waits for an instance."
  type        = number
  default     = 10
}

variable "stream_arn" {
  description = "The stream the stage reads."
  type        = string
}

variable "settings_uri" {
  description = "s3://bucket/key of the services' settings JSON (TRUSTPIPE_SETTINGS)."
  type        = string
}

variable "settings_object_arn" {
  description = "ARN of that object (the function reads it)."
  type        = string
}

variable "stage_policy_json" {
  description = "What the stage's worker does (the workers module's policy for its service: writes, reads, the registry)."
  type        = string
}

variable "batch_size" {
  description = "BatchSize: records per invocation (1 to 10,000)."
  type        = number
  default     = 500
}

variable "maximum_batching_window_seconds" {
  description = "MaximumBatchingWindowInSeconds: how long a batch may gather (0 to 300); latency against invocations."
  type        = number
  default     = 1
}

variable "parallelization_factor" {
  description = "ParallelizationFactor: batches per shard at once (1 to 10); order is kept per partition key."
  type        = number
  default     = 1
}

variable "bisect_batch_on_function_error" {
  description = "BisectBatchOnFunctionError: split a batch whose invocation failed (the handler fails one only when every record failed)."
  type        = bool
  default     = true
}

variable "maximum_retry_attempts" {
  description = "MaximumRetryAttempts (-1: until the record expires). A transient outage longer than this many retries sends batches to the on-failure bucket."
  type        = number
  default     = 100
}

variable "maximum_record_age_seconds" {
  description = "MaximumRecordAgeInSeconds (-1, or 60 to 604,800): older records go to the on-failure bucket unprocessed."
  type        = number
  default     = 86400
}

variable "on_failure_bucket_arn" {
  description = "S3 on-failure destination: where discarded batches' invocation records (with the event) are kept."
  type        = string
}

variable "subnet_ids" {
  description = "Private subnets (the stream importer reaches PostgreSQL in the VPC, the indexer the search domain); empty: no VPC."
  type        = list(string)
  default     = []
}

variable "security_group_ids" {
  description = "Security groups of the function in the VPC (the workers' group of its service)."
  type        = list(string)
  default     = []
}

variable "kms_key_arn" {
  description = "The pipeline's KMS key (environment, logs)."
  type        = string
}

variable "log_retention_days" {
  description = "Retention of the function's logs (a year, as the workers' hosts keep theirs)."
  type        = number
  default     = 365
}

variable "iterator_age_seconds" {
  description = "IteratorAge alarm threshold: the mapping this far behind the stream's tip pages."
  type        = number
  default     = 300
}

variable "alarm_actions" {
  description = "Where the alarms notify (the on-call topic)."
  type        = list(string)
  default     = []
}

variable "runbook_base_url" {
  description = "Base URL of docs/runbooks (each alarm links its runbook)."
  type        = string
}

variable "tags" {
  description = "Tags on every resource."
  type        = map(string)
  default     = {}
}
