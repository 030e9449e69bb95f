terraform {
  required_version = ">= 1.6"

  # State lives beside the local stack (.local/terraform); `trustpipe local up` passes the path.
  backend "local" {}

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = ">= 5.60, < 6.0"
    }
  }
}
