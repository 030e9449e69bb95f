variable "name" {
  description = "Bucket name (global: include the account id)."
  type        = string
}

variable "kms_key_arn" {
  description = "KMS key for SSE-KMS."
  type        = string
}

variable "expiration_days" {
  description = "Days objects are kept (null: kept until deleted)."
  type        = number
  default     = null
}

variable "noncurrent_version_days" {
  description = "Days a replaced or deleted object's old version is kept."
  type        = number
  default     = 30
}

variable "enforce_tls" {
  description = "Deny every request not made over TLS (bucket policy). Only a plain-HTTP AWS stand-in (the moto server) turns it off."
  type        = bool
  default     = true
}

variable "force_destroy" {
  description = "Allow destroying the bucket with objects in it."
  type        = bool
  default     = false
}

variable "tags" {
  description = "Tags for every resource."
  type        = map(string)
  default     = {}
}
