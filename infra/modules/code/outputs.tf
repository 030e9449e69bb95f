output "dag_uri" {
  description = "Where the DAG bundle reads the DAGs."
  value       = "s3://${var.dag_bucket}/${var.dag_prefix}"
}

output "code_uri" {
  description = "The prefix the EMR clusters install from (the hourly DAG's emr.code_uri)."
  value       = "s3://${var.archive_bucket}/code"
}

output "object_keys" {
  description = "Every object uploaded, by bucket."
  value = {
    (var.dag_bucket)     = sort([for o in aws_s3_object.dags : o.key])
    (var.archive_bucket) = sort(concat([for o in aws_s3_object.code : o.key], [aws_s3_object.settings.key]))
  }
}
