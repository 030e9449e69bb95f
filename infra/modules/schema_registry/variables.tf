variable "name" {
  description = "Name prefix of the registry's resources."
  type        = string
}

variable "kms_key_arn" {
  description = "Customer-managed KMS key for the table. When null DynamoDB's AWS-owned key is used."
  type        = string
  default     = null
}

variable "tags" {
  description = "Tags for every resource."
  type        = map(string)
  default     = {}
}
