variable "name" {
  description = "Name prefix of Airflow's resources."
  type        = string
}

variable "bucket_prefix" {
  description = "Prefix of the DAG bucket's name (<prefix>-airflow-dags)."
  type        = string
}

variable "ami_id" {
  description = "The worker AMI (it carries Airflow from the same lock)."
  type        = string
}

variable "instance_type" {
  description = "Airflow host instance type (scheduler, API server, triggerer, DAG processor, local Spark for small hours)."
  type        = string
  default     = "m7g.large"
}

variable "vpc_id" {
  description = "VPC of the Airflow host."
  type        = string
}

variable "vpc_cidr" {
  description = "The VPC's address range."
  type        = string
}

variable "subnet_ids" {
  description = "Private subnets."
  type        = list(string)
}

variable "gateway_prefix_list_ids" {
  description = "Prefix lists of the S3 gateway endpoint."
  type        = list(string)
  default     = []
}

variable "kms_key_arn" {
  description = "The pipeline's KMS key."
  type        = string
}

variable "data_bucket_arns" {
  description = "Landing, scored and archive buckets the DAG tasks read and write."
  type        = list(string)
}

variable "archive_bucket_arn" {
  description = "The archive bucket (one of data_bucket_arns): its code/ and models/ prefixes are closed to the Airflow role."
  type        = string
}

variable "emr_role_arns" {
  description = "EMR service role and instance role the DAG passes to its clusters."
  type        = list(string)
}

variable "oncall_topic_arn" {
  description = "On-call topic failed tasks publish to."
  type        = string
}

variable "database_security_group_id" {
  description = "The database's security group (the host adds its own ingress rule to it)."
  type        = string
}

variable "database_secret_arn" {
  description = "Database credentials (the DAG's checks and Airflow's metadata)."
  type        = string
}

variable "database_endpoint" {
  description = "host:port of the database (Airflow's metadata database and the trustpipe_db connection)."
  type        = string
}

variable "database_name" {
  description = "The pipeline's database on that server."
  type        = string
  default     = "trustpipe"
}

variable "database_user" {
  description = "The PostgreSQL role Airflow logs in as (migration 0008; IAM database authentication)."
  type        = string
  default     = "trustpipe_airflow"
}

variable "database_resource_id" {
  description = "The database instance's resource id (the rds-db:connect ARN names it)."
  type        = string
}

variable "search_url_parameter_arn" {
  description = "The SSM parameter holding the search domain's URL, which the hourly DAG's reconciliation reads (ssm:GetParameter; the domain's access policy admits the reads); null: no search domain."
  type        = string
  default     = null
}

variable "database_ca_bundle" {
  description = "Path of the RDS CA bundle on the host (sslrootcert)."
  type        = string
  default     = "/etc/trustpipe/rds-global-bundle.pem"
}

variable "pipeline_json" {
  description = "The Airflow Variable trustpipe_pipeline (mode, emr configuration) as JSON."
  type        = string
}

variable "dag_prefix" {
  description = "Prefix of the DAG files in the DAG bucket (the S3 DAG bundle's)."
  type        = string
  default     = "dags"
}

variable "settings_json" {
  description = "The services' settings JSON: /etc/trustpipe/settings.json and the Variable trustpipe_settings."
  type        = string
}

variable "admin_username" {
  description = "The Airflow UI's admin user (its password is generated into the host secret)."
  type        = string
  default     = "admin"
}

variable "secret_recovery_days" {
  description = "Days a deleted host secret can be restored (0 deletes at once)."
  type        = number
  default     = 30
}

variable "log_retention_days" {
  description = "Days Airflow's logs are kept."
  type        = number
  default     = 365
}

variable "enforce_tls" {
  description = "Deny plain-HTTP access to the module's bucket (off only against the plain-HTTP moto server)."
  type        = bool
  default     = true
}

variable "force_destroy" {
  description = "Allow destroying the DAG bucket with objects in it."
  type        = bool
  default     = false
}

variable "tags" {
  description = "Tags for every resource."
  type        = map(string)
  default     = {}
}
