variable "checkout_dir" {
  description = "The trustpipe checkout the code is uploaded from (dags/, build/wheelhouse/, build/emr/, spark_jobs/emr/)."
  type        = string
}

variable "dag_bucket" {
  description = "Bucket the Airflow host's DAG bundle reads."
  type        = string
}

variable "dag_prefix" {
  description = "Prefix of the DAG files in the DAG bucket."
  type        = string
  default     = "dags"
}

variable "archive_bucket" {
  description = "Bucket whose code/ prefix the EMR clusters install from (the DAG's emr.code_uri)."
  type        = string
}

variable "settings_json" {
  description = "The services' settings JSON (code/settings.json, read by the job on EMR)."
  type        = string
}

variable "kms_key_arn" {
  description = "The pipeline's KMS key."
  type        = string
}

variable "tags" {
  description = "Tags for every object."
  type        = map(string)
  default     = {}
}
