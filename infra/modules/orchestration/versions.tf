terraform {
  required_version = ">= 1.11" # ephemeral resources and write-only arguments

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = ">= 5.100, < 6.0" # the ephemeral random password, secret_string_wo
    }
  }
}
