# The worker AMI: a blank Amazon Linux 2023 instance, the trustpipe_worker Ansible role run on it,
# snapshotted. Terraform's workers and orchestration modules launch everything from this image.
#
#   make image-inputs                    # build/wheelhouse: the trustpipe wheel + the lock as requirements
#   packer init packer && packer build -var region=us-east-1 packer
packer {
  required_version = ">= 1.10"

  required_plugins {
    amazon = {
      source  = "github.com/hashicorp/amazon"
      version = ">= 1.3.0"
    }
    ansible = {
      source  = "github.com/hashicorp/ansible"
      version = ">= 1.1.0"
    }
  }
}

variable "region" {
  type        = string
  description = "Region the AMI is built in (copy it to others with ami_regions)."
  default     = "us-east-1"
}

variable "instance_type" {
  type        = string
  description = "Builder instance type (Graviton, like the workers)."
  default     = "c7g.large"
}

variable "wheelhouse" {
  type        = string
  description = "make image-inputs output: the trustpipe wheel, requirements.txt (workers) and requirements-airflow.txt (the Airflow host), the lock hashed."
  default     = "../build/wheelhouse"
}

variable "kms_key_id" {
  type        = string
  description = "KMS key the AMI's snapshots are encrypted with (null: the account's default EBS key)."
  default     = null
}

locals {
  stamp = formatdate("YYYYMMDDhhmm", timestamp())
}

source "amazon-ebs" "worker" {
  region        = var.region
  instance_type = var.instance_type
  ami_name      = "trustpipe-worker-${local.stamp}"
  ssh_username  = "ec2-user"

  source_ami_filter {
    filters = {
      name                = "al2023-ami-2023.*-kernel-6.*-arm64"
      architecture        = "arm64"
      root-device-type    = "ebs"
      virtualization-type = "hvm"
    }
    owners      = ["amazon"]
    most_recent = true
  }

  # IMDSv2 only, on the builder and on every instance launched from the image.
  metadata_options {
    http_endpoint               = "enabled"
    http_tokens                 = "required"
    http_put_response_hop_limit = 1
  }
  imds_support = "v2.0"

  encrypt_boot = true
  kms_key_id   = var.kms_key_id

  tags = {
    Name              = "trustpipe-worker"
    "trustpipe:image" = "worker"
    built             = local.stamp
  }
}

build {
  sources = ["source.amazon-ebs.worker"]

  # Java 17 runs the Kinesis Client Library's MultiLangDaemon for the stream workers; its jars
  # come with the locked kclpy-ext wheel in the workers' venv.
  provisioner "shell" {
    inline = ["sudo dnf install -y python3.11 python3.11-pip java-17-amazon-corretto-headless amazon-cloudwatch-agent jq"]
  }

  provisioner "file" {
    source      = "${var.wheelhouse}/" # the trailing slash uploads the contents
    destination = "/tmp/trustpipe-wheels"
  }

  provisioner "ansible" {
    playbook_file = "../ansible/worker.yml"
    user          = "ec2-user"
    use_proxy     = false
    extra_arguments = [
      "--extra-vars", "trustpipe_worker_wheelhouse=/tmp/trustpipe-wheels",
    ]
  }
}
