# Where Airflow runs: one EC2 instance (an ASG of one, so a lost instance is replaced) from the
# worker AMI, with Airflow's components as systemd units and its metadata in the pipeline's RDS.
# EC2 rather than MWAA: the DAGs use Airflow 3.3 (Deadline Alerts), pinned in the same uv.lock as
# the job they run; MWAA's Airflow versions trail upstream and it installs from its own
# constraints. The DAGs are read from the DAG bucket by Airflow's S3 DAG bundle (the apply uploads
# them: module code); the Variables and Connections are served from Parameter Store (written here);
# Airflow logs in to the database as its own role (trustpipe_airflow) with an RDS IAM token made
# for each new connection, its metadata engine's included (trustpipe_orchestration.metadata).
# Airflow's own keys (fernet key, JWT secret, the API server's session key) and its admin's
# credentials are generated here into a Secrets Manager secret, never into state: a replaced host
# reads the same ones at each start. The hourly DAG starts at the hour of the first apply.
data "aws_caller_identity" "this" {}

data "aws_region" "this" {}

locals {
  parameter_prefix = "/${var.name}/airflow"
  database_host    = split(":", var.database_endpoint)[0]
  database_port    = tonumber(split(":", var.database_endpoint)[1])
  # What the secrets backend serves (Airflow Variables and Connections by name).
  variables = {
    trustpipe_settings = var.settings_json
    # The nightly build writes models/ through its own role (this host's cannot).
    trustpipe_pipeline = jsonencode(merge(jsondecode(var.pipeline_json), { model_role_arn = aws_iam_role.models.arn }))
  }
  # Airflow reads each key at each start (`*_CMD` options): never on disk, the same on a new host.
  host_secret_cmd = "/opt/trustpipe/bin/trustpipe airflow-host secret --settings /etc/trustpipe/settings.json --secret ${aws_secretsmanager_secret.host.arn}"
  archive_writes  = ["${var.archive_bucket_arn}/code/*", "${var.archive_bucket_arn}/models/*"]
  connections = {
    # No password: the Postgres hook makes an IAM token for each connection (extra `iam`).
    trustpipe_db = jsonencode({
      conn_type = "postgres"
      host      = local.database_host
      port      = local.database_port
      schema    = var.database_name
      login     = var.database_user
      extra     = { sslmode = "verify-full", sslrootcert = var.database_ca_bundle, iam = true, aws_conn_id = "aws_default" }
    })
    aws_default = jsonencode({ conn_type = "aws", extra = { region_name = data.aws_region.this.name } })
  }
  # /etc/trustpipe/airflow.env on the host (every Airflow unit reads it): no secret in it.
  airflow_env = {
    AWS_DEFAULT_REGION                = data.aws_region.this.name
    AIRFLOW__CORE__AUTH_MANAGER       = "airflow.providers.fab.auth_manager.fab_auth_manager.FabAuthManager"
    AIRFLOW__CORE__FERNET_KEY_CMD     = "${local.host_secret_cmd} fernet_key"
    AIRFLOW__API_AUTH__JWT_SECRET_CMD = "${local.host_secret_cmd} jwt_secret"
    AIRFLOW__API__SECRET_KEY_CMD      = "${local.host_secret_cmd} api_secret_key"
    # The boot unit that creates the admin user reads the secret this names (not a secret itself).
    TRUSTPIPE_AIRFLOW_SECRET         = aws_secretsmanager_secret.host.arn
    AIRFLOW__TRUSTPIPE__HOURLY_START = aws_ssm_parameter.hourly_start.insecure_value
    AIRFLOW__SECRETS__BACKEND        = "trustpipe_orchestration.secrets.ParameterStoreBackend"
    AIRFLOW__SECRETS__BACKEND_KWARGS = jsonencode({
      connections_prefix = "${local.parameter_prefix}/connections"
      variables_prefix   = "${local.parameter_prefix}/variables"
      config_prefix      = null
      region_name        = data.aws_region.this.name
    })
    # No password: the host's airflow_local_settings.py adds an IAM token to each new connection.
    AIRFLOW__DATABASE__SQL_ALCHEMY_CONN = "postgresql+psycopg2://${var.database_user}@${var.database_endpoint}/airflow?sslmode=verify-full&sslrootcert=${var.database_ca_bundle}"
    AIRFLOW__DAG_PROCESSOR__DAG_BUNDLE_CONFIG_LIST = jsonencode([{
      name      = "trustpipe"
      classpath = "airflow.providers.amazon.aws.bundles.s3.S3DagBundle"
      kwargs    = { bucket_name = module.dags.id, prefix = var.dag_prefix, aws_conn_id = "aws_default" }
    }])
  }
}

resource "aws_ssm_parameter" "variables" {
  for_each = local.variables

  name   = "${local.parameter_prefix}/variables/${each.key}"
  type   = "SecureString"
  key_id = var.kms_key_arn
  tier   = "Intelligent-Tiering" # the settings may outgrow the standard tier's 4 KB
  value  = each.value

  tags = var.tags
}

resource "aws_ssm_parameter" "connections" {
  for_each = local.connections

  name   = "${local.parameter_prefix}/connections/${each.key}"
  type   = "SecureString"
  key_id = var.kms_key_arn
  value  = each.value

  tags = var.tags
}

# The hourly DAG's first hour: the hour of the first apply, kept by every later one (a deployment
# never catches up on hours before it existed, and a later apply never moves its start).
resource "aws_ssm_parameter" "hourly_start" {
  # checkov:skip=CKV2_AWS_34: an hour (a date-time, no secret) that user data carries in plain; a SecureString would only mark the launch template sensitive.
  name           = "${local.parameter_prefix}/hourly_start"
  type           = "String"
  insecure_value = formatdate("YYYY-MM-DD'T'hh:00:00Z", plantimestamp())

  lifecycle {
    ignore_changes = [insecure_value]
  }

  tags = var.tags
}

# -- Airflow's keys and admin: generated once, into Secrets Manager only -------------------------

# Ephemeral: the values pass to the secret's write-only argument and are never in plan or state.
ephemeral "aws_secretsmanager_random_password" "fernet_key" {
  # A Fernet key is 32 bytes as URL-safe base64: 43 characters and one "=" of padding.
  password_length     = 43
  exclude_punctuation = true
}

ephemeral "aws_secretsmanager_random_password" "jwt_secret" {
  password_length     = 64
  exclude_punctuation = true
}

ephemeral "aws_secretsmanager_random_password" "api_secret_key" {
  password_length     = 64
  exclude_punctuation = true
}

ephemeral "aws_secretsmanager_random_password" "admin_password" {
  password_length     = 32
  exclude_punctuation = true
}

resource "aws_secretsmanager_secret" "host" {
  # checkov:skip=CKV2_AWS_57: the fernet key encrypts connection fields in the metadata database and the JWT secret signs live sessions; each needs an operator's re-encrypt or restart, not a Lambda's schedule (docs/deploy.md).
  name                    = "${var.name}/airflow/host"
  description             = "Airflow's fernet key, JWT secret, API session key and admin credentials (read at each start)."
  kms_key_id              = var.kms_key_arn
  recovery_window_in_days = var.secret_recovery_days

  tags = var.tags
}

resource "aws_secretsmanager_secret_version" "host" {
  secret_id = aws_secretsmanager_secret.host.id
  secret_string_wo = jsonencode({
    fernet_key     = "${ephemeral.aws_secretsmanager_random_password.fernet_key.random_password}="
    jwt_secret     = ephemeral.aws_secretsmanager_random_password.jwt_secret.random_password
    api_secret_key = ephemeral.aws_secretsmanager_random_password.api_secret_key.random_password
    admin_username = var.admin_username
    admin_password = ephemeral.aws_secretsmanager_random_password.admin_password.random_password
  })
  # Written once: a later apply opens new random values but sends none of them (a new version
  # number would replace every key, and the fernet key's change would orphan what it encrypted).
  secret_string_wo_version = 1
}

module "dags" {
  source = "../private_bucket"

  name          = "${var.bucket_prefix}-airflow-dags"
  kms_key_arn   = var.kms_key_arn
  enforce_tls   = var.enforce_tls
  force_destroy = var.force_destroy

  tags = var.tags
}

# -- the execution role: what the DAG tasks do --------------------------------------------------

data "aws_iam_policy_document" "assume" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["ec2.amazonaws.com"]
    }
  }
}

data "aws_iam_policy_document" "execution" {
  statement {
    sid       = "Dags"
    actions   = ["s3:GetObject", "s3:ListBucket"]
    resources = [module.dags.arn, "${module.dags.arn}/*"]
  }

  statement {
    sid       = "DataLake"
    actions   = ["s3:GetObject", "s3:ListBucket", "s3:PutObject", "s3:DeleteObject"]
    resources = flatten([for arn in var.data_bucket_arns : [arn, "${arn}/*"]])
  }

  # code/ is installed as root on every EMR node and models/ decides every verdict: the deploy
  # writes the one, the nightly build (through the models role) the other, this role neither.
  statement {
    sid       = "NoCodeOrModels"
    effect    = "Deny"
    actions   = ["s3:Put*", "s3:Delete*", "s3:Replicate*", "s3:RestoreObject", "s3:AbortMultipartUpload"]
    resources = local.archive_writes
  }

  statement {
    sid       = "NightlyBuildWritesModels"
    actions   = ["sts:AssumeRole", "sts:TagSession"]
    resources = [aws_iam_role.models.arn]
  }

  statement {
    sid       = "TransientClusters"
    actions   = ["elasticmapreduce:RunJobFlow", "elasticmapreduce:ListClusters"]
    resources = ["*"] # RunJobFlow and ListClusters take no resource ARN
  }

  statement {
    sid       = "OwnClusters"
    actions   = ["elasticmapreduce:AddJobFlowSteps", "elasticmapreduce:DescribeCluster", "elasticmapreduce:DescribeStep", "elasticmapreduce:TerminateJobFlows", "elasticmapreduce:AddTags"]
    resources = ["arn:aws:elasticmapreduce:*:${data.aws_caller_identity.this.account_id}:cluster/*"]
    condition {
      test     = "StringEquals"
      variable = "aws:ResourceTag/trustpipe:dag"
      values   = ["message_scoring_hourly", "model_build_nightly"]
    }
  }

  statement {
    sid       = "PassClusterRoles"
    actions   = ["iam:PassRole"]
    resources = var.emr_role_arns
  }

  statement {
    sid       = "OnCall"
    actions   = ["sns:Publish"]
    resources = [var.oncall_topic_arn]
  }

  statement {
    sid       = "Metrics"
    actions   = ["cloudwatch:PutMetricData"]
    resources = ["*"] # PutMetricData has no resource-level permissions; the namespace condition scopes it
    condition {
      test     = "StringEquals"
      variable = "cloudwatch:namespace"
      values   = ["trustpipe/pipeline"]
    }
  }

  statement {
    sid       = "VariablesAndConnections"
    actions   = ["ssm:GetParameter", "ssm:GetParameters"]
    resources = ["arn:aws:ssm:${data.aws_region.this.name}:${data.aws_caller_identity.this.account_id}:parameter${local.parameter_prefix}/*"]
  }

  # The one-shot units on this host (migrations, Airflow's database made) run as the master user;
  # Airflow's own keys and admin credentials (the host secret) are read at each start.
  statement {
    sid       = "MigrationCredentialsAndHostKeys"
    actions   = ["secretsmanager:GetSecretValue"]
    resources = [var.database_secret_arn, aws_secretsmanager_secret.host.arn]
  }

  statement {
    sid       = "DatabaseLogin"
    actions   = ["rds-db:connect"]
    resources = ["arn:aws:rds-db:${data.aws_region.this.name}:${data.aws_caller_identity.this.account_id}:dbuser:${var.database_resource_id}/${var.database_user}"]
  }

  statement {
    sid       = "Key"
    actions   = ["kms:Decrypt", "kms:GenerateDataKey"]
    resources = [var.kms_key_arn]
  }

  statement {
    sid       = "Logs"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams"]
    resources = ["${aws_cloudwatch_log_group.this.arn}:*"]
  }

  # The settings name where the search domain's URL is published: the reconciliation reads it.
  dynamic "statement" {
    for_each = var.search_url_parameter_arn == null ? [] : [1]
    content {
      sid       = "SearchUrl"
      actions   = ["ssm:GetParameter"]
      resources = [var.search_url_parameter_arn]
    }
  }
}

resource "aws_iam_role" "this" {
  name               = "${var.name}-airflow"
  assume_role_policy = data.aws_iam_policy_document.assume.json

  tags = var.tags
}

resource "aws_iam_role_policy" "this" {
  name   = "airflow-execution"
  role   = aws_iam_role.this.id
  policy = data.aws_iam_policy_document.execution.json
}

resource "aws_iam_role_policy_attachment" "ssm" {
  role       = aws_iam_role.this.name
  policy_arn = "arn:aws:iam::aws:policy/AmazonSSMManagedInstanceCore"
}

# -- the models role: the nightly build's writes to models/ -------------------------------------

# The Airflow role assumes it in the nightly build's tasks only (trustpipe_orchestration.tasks),
# so a write to models/ is that role's, in CloudTrail under its session name.
data "aws_iam_policy_document" "models_assume" {
  statement {
    actions = ["sts:AssumeRole", "sts:TagSession"]
    principals {
      type        = "AWS"
      identifiers = [aws_iam_role.this.arn]
    }
  }
}

data "aws_iam_policy_document" "models" {
  statement {
    sid       = "SaveAndPromote"
    actions   = ["s3:GetObject", "s3:PutObject"]
    resources = ["${var.archive_bucket_arn}/models/*"]
  }

  statement {
    sid       = "ListModels"
    actions   = ["s3:ListBucket"]
    resources = [var.archive_bucket_arn]
    condition {
      test     = "StringLike"
      variable = "s3:prefix"
      values   = ["models/*"]
    }
  }

  statement {
    sid       = "Key"
    actions   = ["kms:Decrypt", "kms:GenerateDataKey"]
    resources = [var.kms_key_arn]
  }
}

resource "aws_iam_role" "models" {
  name               = "${var.name}-airflow-models"
  assume_role_policy = data.aws_iam_policy_document.models_assume.json

  tags = var.tags
}

resource "aws_iam_role_policy" "models" {
  name   = "save-and-promote-models"
  role   = aws_iam_role.models.id
  policy = data.aws_iam_policy_document.models.json
}

resource "aws_iam_instance_profile" "this" {
  name = "${var.name}-airflow"
  role = aws_iam_role.this.name

  tags = var.tags
}

resource "aws_cloudwatch_log_group" "this" {
  name              = "/trustpipe/${var.name}/airflow"
  retention_in_days = var.log_retention_days
  kms_key_id        = var.kms_key_arn

  tags = var.tags
}

# -- the instance --------------------------------------------------------------------------------

resource "aws_security_group" "this" {
  name        = "${var.name}-airflow"
  description = "Airflow: UI reached through Session Manager port forwarding; HTTPS and PostgreSQL inside the VPC"
  vpc_id      = var.vpc_id

  egress {
    description = "AWS APIs through the VPC endpoints"
    from_port   = 443
    to_port     = 443
    protocol    = "tcp"
    cidr_blocks = [var.vpc_cidr]
  }

  egress {
    description     = "S3 through its gateway endpoint"
    from_port       = 443
    to_port         = 443
    protocol        = "tcp"
    prefix_list_ids = var.gateway_prefix_list_ids
  }

  egress {
    description = "The Airflow metadata database"
    from_port   = 5432
    to_port     = 5432
    protocol    = "tcp"
    cidr_blocks = [var.vpc_cidr]
  }

  tags = var.tags
}

# The database lets the Airflow host in (the rule lives here: the host depends on the database,
# never the other way round).
resource "aws_vpc_security_group_ingress_rule" "database" {
  security_group_id            = var.database_security_group_id
  description                  = "PostgreSQL from the Airflow host"
  referenced_security_group_id = aws_security_group.this.id
  from_port                    = 5432
  to_port                      = 5432
  ip_protocol                  = "tcp"

  tags = var.tags
}

resource "aws_launch_template" "this" {
  name_prefix   = "${var.name}-airflow-"
  image_id      = var.ami_id
  instance_type = var.instance_type

  iam_instance_profile {
    arn = aws_iam_instance_profile.this.arn
  }

  vpc_security_group_ids = [aws_security_group.this.id]

  metadata_options {
    http_endpoint               = "enabled"
    http_tokens                 = "required"
    http_put_response_hop_limit = 1
  }

  block_device_mappings {
    device_name = "/dev/xvda"
    ebs {
      volume_size = 40
      volume_type = "gp3"
      encrypted   = true
      kms_key_id  = var.kms_key_arn
    }
  }

  user_data = base64encode(templatefile("${path.module}/user_data.sh.tftpl", {
    settings_json = var.settings_json
    airflow_env   = local.airflow_env
  }))

  tags = var.tags
}

resource "aws_autoscaling_group" "this" {
  name                = "${var.name}-airflow"
  min_size            = 1
  max_size            = 1
  desired_capacity    = 1
  vpc_zone_identifier = var.subnet_ids

  launch_template {
    id      = aws_launch_template.this.id
    version = aws_launch_template.this.latest_version
  }

  tag {
    key                 = "Name"
    value               = "${var.name}-airflow"
    propagate_at_launch = true
  }
}
