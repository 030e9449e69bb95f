variable "aws_endpoint" {
  description = "Endpoint of the AWS stand-in (the moto server), e.g. http://127.0.0.1:5000."
  type        = string
}

variable "region" {
  description = "AWS region of the local stack."
  type        = string
  default     = "us-east-1"
}

variable "registry_lambda_zip" {
  description = "The registry's deployment zip (`make lambda`); `trustpipe local up` builds it."
  type        = string
}

variable "frontdoor_lambda_zip" {
  description = "The stream front door's deployment zip (`make lambda`); `trustpipe local up` builds it."
  type        = string
}

variable "name" {
  description = "Name prefix of every resource."
  type        = string
  default     = "trustpipe-local"
}

variable "worker_ami_id" {
  description = "Image of the workers' launch templates (one of moto's stock images stands in for the baked AMI)."
  type        = string
  default     = "ami-12c6146b"
}

variable "enterprises" {
  description = "The local stack's tenant map (enterprise id => who may assume its sensor and consumer roles; empty: the account's root): by default the sensor simulator's three."
  # A map, not an object type: Terraform would drop a misspelled field of an object silently
  # (and the role would trust the account's root); the pipeline module refuses unknown fields.
  type = map(map(list(string)))
  default = {
    acme    = {}
    globex  = {}
    initech = {}
  }
}
