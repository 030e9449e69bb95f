# The code the pipeline runs, uploaded by the apply: the DAGs to the DAG bucket (the Airflow
# host's S3 DAG bundle reads them), and under the archive bucket's code/ prefix what a transient
# EMR cluster installs and runs (the wheelhouse, the bootstrap action, the job's entry point) with
# the settings it reads. Each object carries its file's hash: changed files are uploaded again,
# unchanged ones are left alone, and a file removed from the checkout is removed from S3.
locals {
  dags_dir       = "${var.checkout_dir}/dags"
  wheelhouse_dir = "${var.checkout_dir}/build/wheelhouse"
  emr_dir        = "${var.checkout_dir}/spark_jobs/emr"
  dags           = fileset(local.dags_dir, "*.py")
  wheelhouse     = fileset(local.wheelhouse_dir, "*.whl")
  code = merge(
    { for f in local.wheelhouse : "code/wheels/${f}" => "${local.wheelhouse_dir}/${f}" },
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
      condition     = length([for f in local.wheelhouse : f if startswith(f, "trustpipe-") && endswith(f, ".whl")]) == 1
      error_message = "${local.wheelhouse_dir} must hold exactly one trustpipe wheel: run `make image-inputs` (`make deploy` does)."
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
