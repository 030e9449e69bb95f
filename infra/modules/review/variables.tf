variable "name" {
  description = "Name prefix of the review API's resources (its pool, function, API and alarms are <name>-review)."
  type        = string
}

variable "handler" {
  description = "The function's handler (trustpipe_deploy.stage_lambdas.APPS: the review app's <package>.lambda_handler.handler)."
  type        = string
  default     = "trustpipe_review.lambda_handler.handler"
}

variable "lambda_zip_path" {
  description = "The review function's zip (`make lambda`: build/review-lambda.zip)."
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
  default     = 512
}

variable "timeout_seconds" {
  description = "Function timeout; API Gateway HTTP APIs give up after 30 s."
  type        = number
  default     = 15

  validation {
    condition     = var.timeout_seconds >= 1 && var.timeout_seconds <= 29
    error_message = "timeout_seconds is 1-29: API Gateway answers 503 after 30 s whatever the function does."
  }
}

variable "reserved_concurrency" {
  description = "Most concurrent executions of the review function (each is one request in flight)."
  type        = number
  default     = 20
}

variable "settings_uri" {
  description = "s3://bucket/key of the services' settings JSON (TRUSTPIPE_SETTINGS)."
  type        = string
}

variable "settings_object_arn" {
  description = "ARN of that object (the function reads it)."
  type        = string
}

variable "action_queue_arns" {
  description = "Every enterprise's action queue (a release is sent on the deciding user's enterprise's own; the app picks it from the token)."
  type        = list(string)
}

variable "archive_bucket_arn" {
  description = "The archive bucket: review labels are written under labels_prefix in it."
  type        = string
}

variable "labels_prefix" {
  description = "Prefix of the review labels in the archive bucket (the function may put objects under it and nowhere else)."
  type        = string
  default     = "review_labels/"

  validation {
    condition     = can(regex("^[a-z0-9_-]+/?$", var.labels_prefix))
    error_message = "labels_prefix is one path segment (lower-case letters, digits, _ and -), e.g. review_labels/."
  }
}

variable "search_domain_arn" {
  description = "The search domain (the function searches and updates its documents); null without one."
  type        = string
  default     = null
}

variable "search_url_parameter_arn" {
  description = "The SSM parameter holding the search domain's URL (the services' settings' search_url_parameter); null without a domain."
  type        = string
  default     = null
}

variable "database_resource_id" {
  description = "The RDS instance's resource id (rds-db:connect names it); null without a database."
  type        = string
  default     = null
}

variable "database_user" {
  description = "The PostgreSQL role the function logs in as with an IAM token (its rds-db:connect user)."
  type        = string
  default     = "trustpipe_review"
}

variable "database_security_group_ids" {
  description = "The database's security group (the function's PostgreSQL egress names it); empty without a database."
  type        = list(string)
  default     = []
}

variable "vpc_id" {
  description = "The VPC the function's network interfaces live in."
  type        = string
}

variable "vpc_cidr" {
  description = "The VPC's CIDR (HTTPS to its interface endpoints and the search domain)."
  type        = string
}

variable "subnet_ids" {
  description = "Private subnets of the function."
  type        = list(string)
}

variable "gateway_prefix_list_ids" {
  description = "Prefix lists of the VPC's gateway endpoints (S3)."
  type        = list(string)
}

variable "routes" {
  description = "The API's route keys, every one behind the JWT authorizer. Greedy by method: the app routes the paths itself (GET reads, POST decides)."
  type        = list(string)
  default     = ["GET /{proxy+}", "POST /{proxy+}"]
}

variable "page_routes" {
  description = "The review page's routes, reached without a token (more specific than routes' greedy ones): its HTML, its script and its sign-in configuration."
  type        = list(string)
  default     = ["GET /", "GET /page.js", "GET /config.json"]

  validation {
    condition     = alltrue([for key in var.page_routes : can(regex("^GET /[a-z0-9./_-]*$", key))])
    error_message = "page_routes are GET routes of fixed paths: a greedy or parameterised path would open data routes."
  }
}

variable "throttle_rate_limit" {
  description = "Steady requests per second the stage accepts on every route (the default route settings)."
  type        = number
  default     = 50
}

variable "throttle_burst_limit" {
  description = "Burst of requests the stage accepts on every route."
  type        = number
  default     = 100
}

variable "route_throttles" {
  description = "Tighter limits per route key (a key of routes): the routes that act, decisions (requests per second, burst)."
  type        = map(object({ rate_limit = number, burst_limit = number }))
  default     = { "POST /{proxy+}" = { rate_limit = 5, burst_limit = 10 } }
}

variable "password_minimum_length" {
  description = "Shortest password the pool accepts (with lower and upper case, a digit and a symbol)."
  type        = number
  default     = 14

  validation {
    condition     = var.password_minimum_length >= 14 && var.password_minimum_length <= 99
    error_message = "password_minimum_length is 14-99."
  }
}

variable "token_validity_minutes" {
  description = "Lifetime of the ID and access tokens the API accepts (5-1,440 minutes)."
  type        = number
  default     = 60
}

variable "refresh_token_validity_days" {
  description = "Lifetime of a refresh token: how long a reviewer stays signed in without a password."
  type        = number
  default     = 7
}

variable "deletion_protection" {
  description = "Refuse to delete the user pool (its users are people's accounts)."
  type        = bool
  default     = true
}

variable "client_error_threshold" {
  description = "4xx answers a minute above which the 4xx alarm counts a minute (refused tokens, throttles, bad requests)."
  type        = number
  default     = 50
}

variable "latency_p99_ms" {
  description = "p99 latency (ms) above which the latency alarm counts a minute."
  type        = number
  default     = 3000
}

variable "kms_key_arn" {
  description = "The pipeline's KMS key (the function's environment, the logs; the queues, bucket and settings it uses)."
  type        = string
}

variable "log_retention_days" {
  description = "Days the function's and the API's logs are kept."
  type        = number
  default     = 365
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
