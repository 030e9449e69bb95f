terraform {
  required_version = ">= 1.6"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = ">= 5.60, < 6.0"
    }
  }

  # Remote state with a lock; the bucket and table exist before the first apply (docs/deploy.md).
  # Their names are passed at init: terraform init -backend-config=backend.hcl
  backend "s3" {
    key     = "trustpipe/dev.tfstate"
    encrypt = true
  }
}
