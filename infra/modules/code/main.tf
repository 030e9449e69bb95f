# The code the pipeline runs, uploaded by the apply: the DAGs to the DAG bucket (the Airflow
# host's S3 DAG bundle reads them), and under the archive bucket's code/ prefix what a transient
# EMR cluster installs and runs (the bootstrap action, the job's entry point) with the settings it
# reads. code/wheels/ is all the bootstrap action installs from, with no package index: the
# trustpipe wheel, and the wheels of everything the job imports with the requirements that pin
# them (`make emr-wheels`: built for the cluster's Python and architecture). Each object carries
# its file's hash: changed files are uploaded again, unchanged ones are left alone, and a file
# removed from the checkout is removed from S3.
locals {
  dags_dir         = "${var.checkout_dir}/dags"
  wheelhouse_dir   = "${var.checkout_dir}/build/wheelhouse"
  cluster_dir      = "${var.checkout_dir}/build/emr"
  emr_dir          = "${var.checkout_dir}/spark_jobs/emr"
  dags             = fileset(local.dags_dir, "*.py")
  trustpipe_wheels = fileset(local.wheelhouse_dir, "trustpipe-*.whl")
  cluster_wheels   = fileset("${local.cluster_dir}/wheels", "*.whl")
  cluster_pins     = "${local.cluster_dir}/requirements.txt"
  code = merge(
    { for f in local.trustpipe_wheels : "code/wheels/${f}" => "${local.wheelhouse_dir}/${f}" },
    { for f in local.cluster_wheels : "code/wheels/${f}" => "${local.cluster_dir}/wheels/${f}" },
    fileexists(local.cluster_pins) ? { "code/wheels/requirements.txt" = local.cluster_pins } : {},
    {
      "code/bootstrap.sh"           = "${local.emr_dir}/bootstrap.sh"
      "code/jobs/score_messages.py" = "${local.emr_dir}/score_messages.py"
    },
  )
}

resource "aws_s3_object" "dags" {
  for_each = local.dags

  bucket      = var.dag_bucket
  key         = "${var.dag_prefix}/${each.value}"
  source      = "${local.dags_dir}/${each.value}"
  source_hash = filemd5("${local.dags_dir}/${each.value}")
  kms_key_id  = var.kms_key_arn

  tags = var.tags
}

resource "aws_s3_object" "code" {
  for_each = local.code

  bucket      = var.archive_bucket
  key         = each.key
  source      = each.value
  source_hash = filemd5(each.value)
  kms_key_id  = var.kms_key_arn

  tags = var.tags

  lifecycle {
    precondition {
      condition     = length(local.trustpipe_wheels) == 1
      error_message = "${local.wheelhouse_dir} must hold exactly one trustpipe wheel: run `make image-inputs` (`make deploy` does)."
    }
    precondition {
      condition     = fileexists(local.cluster_pins) && length(local.cluster_wheels) > 0
      error_message = "${local.cluster_dir} must hold the cluster's requirements.txt and wheels/: run `make emr-wheels` (`make deploy` does)."
    }
  }
}

resource "aws_s3_object" "settings" {
  bucket       = var.archive_bucket
  key          = "code/settings.json"
  content      = var.settings_json
  content_type = "application/json"
  kms_key_id   = var.kms_key_arn

  tags = var.tags
}
