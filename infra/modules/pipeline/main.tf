# The whole pipeline, wired from the concern modules: what every root applies. infra/envs/dev and
# prod apply all of it on AWS; infra/envs/local applies it to the moto server with the switches
# off for what moto cannot run (RDS, the EMR cluster's roles and configuration, the Airflow host).
locals {
  # The tenant map with every field present (an absent list: the account's root trusts).
  enterprises = {
    for id, e in var.enterprises : id => {
      sensor_principals   = lookup(e, "sensor_principals", [])
      consumer_principals = lookup(e, "consumer_principals", [])
    }
  }
  bucket_prefix = "${var.name}-${data.aws_caller_identity.this.account_id}"
  # No password here: the services log in as their own roles with IAM tokens made per connection,
  # the one-shot migration unit as this (master) user with the secret's; TLS is verified against
  # the RDS CA bundle the image carries (trustpipe.db.roles.RDS_CA_BUNDLE).
  database_ca_bundle = "/etc/trustpipe/rds-global-bundle.pem"
  database_url       = var.enable_database ? "postgresql://trustpipe_admin@${one(module.database[*].endpoint)}/trustpipe?sslmode=verify-full&sslrootcert=${local.database_ca_bundle}" : null
  # Where the search domain's URL is published, known before the domain is. Its endpoint exists
  # only once the domain does, and the domain needs the workers' roles and security groups, whose
  # hosts' user data holds these settings: so the settings hold this static name, and the search
  # client reads the URL from it (through the private subnets' SSM interface endpoint; the domain
  # API, es.<region>.amazonaws.com, has none there).
  search_url_parameter     = var.enable_search ? "/trustpipe/${var.name}/search/url" : null
  search_url_parameter_arn = var.enable_search ? "arn:aws:ssm:${data.aws_region.this.name}:${data.aws_caller_identity.this.account_id}:parameter${local.search_url_parameter}" : null
  # The services' settings (trustpipe.settings.Settings): one shape, from every root.
  settings = {
    region             = data.aws_region.this.name
    landing_bucket     = module.data_lake.landing_bucket
    scored_bucket      = module.data_lake.scored_bucket
    archive_bucket     = module.data_lake.archive_bucket
    scored_topic_arn   = module.messaging.topic_arn
    importer_queue_url = module.messaging.queue_url
    importer_dlq_url   = module.messaging.dlq_url
    search_queue_url   = module.messaging.search_queue_url
    search_dlq_url     = module.messaging.search_dlq_url
    # On AWS the search store's URL is read from its SSM parameter (local.search_url_parameter);
    # the local stack sets its emulator's URL itself, as it does the registry's.
    search_url           = null
    search_url_parameter = local.search_url_parameter
    raw_stream_name      = module.streaming.raw_stream_name
    scored_stream_name   = module.streaming.scored_stream_name
    imported_stream_name = module.streaming.imported_stream_name
    registry_table_name  = module.schema_registry.table_name
    registry_url         = module.schema_registry.api_url
    frontdoor_url        = module.ingest.api_endpoint
    tenants              = module.tenants.tenants
    actions_table_name   = module.alerting.actions_table_name
    oncall_topic_arn     = module.monitoring.oncall_topic_arn
    aws_endpoint         = var.aws_endpoint
    database_url         = local.database_url
    database_secret_arn  = one(module.database[*].master_secret_arn)
    database_iam_auth    = var.enable_database
    redis_url            = one(module.counters[*].url)
    redis_iam_cache      = one(module.counters[*].replication_group_id)

    # Only the local stack keeps sensor sessions in a file; on AWS sensors assume their role.
    sensor_credentials_file = null
    # The review API's pool is made after this object is written: on AWS its function takes the
    # pool's and client's ids from its environment (module.review); only the local stack sets these.
    review_user_pool_id = null
    review_client_id    = null
    review_url          = null
  }
  # The hourly DAG's emr configuration (the Variable trustpipe_pipeline's `emr`).
  emr = var.enable_emr ? {
    service_role           = one(module.emr[*].service_role_name)
    job_flow_role          = one(module.emr[*].instance_profile_name)
    security_configuration = one(module.emr[*].security_configuration_name)
    log_uri                = one(module.emr[*].log_uri)
    subnet_ids             = module.network.private_subnet_ids
    code_uri               = "s3://${module.data_lake.archive_bucket}/code"
    # the clusters' own group: the counters' cache admits it (module.counters below)
    additional_security_group_ids = [one(module.emr[*].cluster_security_group_id)]
  } : null
}

data "aws_caller_identity" "this" {}

data "aws_region" "this" {}

module "keys" {
  source = "../keys"

  name                    = var.name
  deletion_window_in_days = var.key_deletion_window_in_days
  tags                    = var.tags
}

module "network" {
  source = "../network"

  name        = var.name
  cidr_block  = var.vpc_cidr
  az_count    = var.az_count
  kms_key_arn = module.keys.key_arn
  tags        = var.tags
}

module "messaging" {
  source = "../messaging"

  name                  = var.name
  publisher_bucket_arns = ["arn:aws:s3:::${local.bucket_prefix}-scored"]
  max_receive_count     = var.max_receive_count
  kms_key_id            = module.keys.key_arn
  tags                  = var.tags
}

module "alerting" {
  source = "../alerting"

  name        = var.name
  enterprises = keys(var.enterprises)
  kms_key_arn = module.keys.key_arn
  tags        = var.tags
}

module "tenants" {
  source = "../tenants"

  name               = var.name
  enterprises        = local.enterprises
  landing_bucket_arn = module.data_lake.bucket_arns["landing"]
  action_queue_arns  = module.alerting.action_queue_arns
  action_queue_urls  = module.alerting.action_queue_urls
  alert_topic_arns   = module.alerting.alert_topic_arns
  sender_role_arns   = [module.workers.role_arns["alerter"]]
  # The sensor roles may post to the stream front door's POST /records, nothing else of the stream.
  frontdoor_execution_arn = module.ingest.execution_arn
  kms_key_arn             = module.keys.key_arn
  tags                    = var.tags
}

module "data_lake" {
  source = "../data_lake"

  bucket_prefix                 = local.bucket_prefix
  force_destroy                 = var.force_destroy
  kms_key_arn                   = module.keys.key_arn
  enforce_tls                   = var.enforce_tls
  scored_notification_topic_arn = module.messaging.topic_arn
  access_log_bucket             = var.access_log_bucket
  tags                          = var.tags
}

module "streaming" {
  source = "../streaming"

  name                 = var.name
  raw_shard_count      = var.raw_shard_count
  scored_shard_count   = var.scored_shard_count
  imported_shard_count = var.imported_shard_count
  kms_key_arn          = module.keys.key_arn
  archive_bucket_arn   = module.data_lake.bucket_arns["archive"]
  tags                 = var.tags
}

module "schema_registry" {
  source = "../schema_registry"

  name            = var.name
  lambda_zip_path = var.registry_lambda_zip
  # A private API: reached through the VPC's execute-api endpoint, which its policy names.
  vpc_endpoint_ids = [module.network.interface_endpoint_ids["execute-api"]]
  alarm_actions    = [module.monitoring.oncall_topic_arn]
  runbook_base_url = var.runbook_base_url
  tags             = var.tags
}

# The stream's front door: sensors POST to it and it stamps their enterprise on the raw records.
module "ingest" {
  source = "../ingest"

  name            = var.name
  raw_stream_name = module.streaming.raw_stream_name
  raw_stream_arn  = module.streaming.stream_arns["raw"]
  # Each enterprise's sensor role, which the front door maps its callers to (their policy grants
  # execute-api:Invoke on this API's POST /records).
  sensor_role_arns = module.tenants.sensor_role_arns
  config_bucket    = module.data_lake.archive_bucket
  lambda_zip_path  = var.frontdoor_lambda_zip
  alarm_actions    = [module.monitoring.oncall_topic_arn]
  runbook_base_url = var.runbook_base_url
  kms_key_arn      = module.keys.key_arn
  tags             = var.tags
}

module "monitoring" {
  source = "../monitoring"

  name                = var.name
  kms_key_arn         = module.keys.key_arn
  alert_emails        = var.alert_emails
  runbook_base_url    = var.runbook_base_url
  importer_queue_name = module.messaging.queue_name
  importer_dlq_name   = module.messaging.dlq_name
  search_dlq_name     = module.messaging.search_dlq_name
  stream_names        = [module.streaming.raw_stream_name, module.streaming.scored_stream_name, module.streaming.imported_stream_name]
  db_instance_id      = one(module.database[*].instance_id)
  tags                = var.tags
}

module "workers" {
  source = "../workers"

  name                       = var.name
  ami_id                     = var.worker_ami_id
  vpc_id                     = module.network.vpc_id
  vpc_cidr                   = module.network.cidr_block
  subnet_ids                 = module.network.private_subnet_ids
  gateway_prefix_list_ids    = module.network.gateway_prefix_list_ids
  kms_key_arn                = module.keys.key_arn
  settings_json              = jsonencode(local.settings)
  instance_types             = var.worker_instance_types
  raw_stream_arn             = module.streaming.stream_arns["raw"]
  raw_shard_count            = var.raw_shard_count
  scorer_cores_per_instance  = var.scorer_cores_per_instance
  scored_stream_arn          = module.streaming.stream_arns["scored"]
  imported_stream_arn        = module.streaming.stream_arns["imported"]
  action_queue_arns          = values(module.alerting.action_queue_arns)
  alert_topic_arns           = values(module.alerting.alert_topic_arns)
  actions_table_arn          = module.alerting.actions_table_arn
  importer_queue_arn         = module.messaging.queue_arn
  importer_queue_name        = module.messaging.queue_name
  scored_bucket_arn          = module.data_lake.bucket_arns["scored"]
  archive_bucket_arn         = module.data_lake.bucket_arns["archive"]
  registry_api_execution_arn = module.schema_registry.api_execution_arn
  enable_indexer             = var.enable_search
  # By instance and output, not module.search[*]: the whole module would depend on the indexer
  # function's role (a writer), whose policy is this module's (a cycle).
  search_domain_arn         = var.enable_search ? module.search[0].domain_arn : null
  search_url_parameter_arn  = local.search_url_parameter_arn
  search_admin_role_arn     = var.enable_search ? module.search[0].admin_role_arn : null
  search_queue_arn          = module.messaging.search_queue_arn
  database_secret_arn       = one(module.database[*].master_secret_arn)
  database_resource_id      = one(module.database[*].resource_id)
  importer_min_size         = var.importer_min_size
  importer_max_size         = var.importer_max_size
  alerter_count             = var.alerter_count
  wait_for_capacity_timeout = var.wait_for_capacity_timeout
  stage_forms               = var.stage_forms
  tags                      = var.tags
}

# -- the stream stages switched to their Lambda form (var.stage_forms) --------------------------

locals {
  # Each stage: the service whose worker it runs, the stream it reads, its handler
  # (trustpipe_deploy.stage_lambdas.handler_of; a unit test holds them together).
  stages = {
    scorer            = { service = "scorer", stream = "raw", handler = "trustpipe_scorer.lambda_handler.handler" }
    "stream-importer" = { service = "importer", stream = "scored", handler = "trustpipe_importer.lambda_handler.handler" }
    alerter           = { service = "alerter", stream = "imported", handler = "trustpipe_alerter.lambda_handler.handler" }
    indexer           = { service = "indexer", stream = "scored", handler = "trustpipe_search.lambda_handler.handler" }
  }
  # The indexer is a stage only where there is a search domain (the workers module has no indexer
  # service, policy or security group without one).
  lambda_stages = {
    for stage, form in var.stage_forms : stage => local.stages[stage]
    if form == "lambda" && (stage != "indexer" || var.enable_search)
  }
  # The stages whose function runs in the VPC: the stream importer reaches PostgreSQL, the indexer
  # the search domain, each from its service's hosts' security group.
  vpc_stages   = ["stream-importer", "indexer"]
  settings_key = "config/services-settings.json"
}

# The functions (the stages', the review API's) read the services' settings here (a host gets
# them in its user data).
resource "aws_s3_object" "settings" {
  count = length(local.lambda_stages) > 0 || var.enable_review ? 1 : 0

  bucket       = module.data_lake.archive_bucket
  key          = local.settings_key
  content      = jsonencode(local.settings)
  content_type = "application/json"

  tags = var.tags
}

module "stream_lambda" {
  source   = "../stream_lambda"
  for_each = local.lambda_stages

  name                 = var.name
  stage                = each.key
  handler              = each.value.handler
  lambda_zip_path      = "${var.stage_lambda_dir}/${each.key}-lambda.zip"
  stream_arn           = module.streaming.stream_arns[each.value.stream]
  settings_uri         = "s3://${module.data_lake.archive_bucket}/${local.settings_key}"
  settings_object_arn  = "${module.data_lake.bucket_arns["archive"]}/${local.settings_key}"
  stage_policy_json    = module.workers.policies[each.value.service]
  reserved_concurrency = lookup(var.stage_lambda_concurrency, each.key, 10)
  # Discarded batches' invocation records under aws/lambda/ of the archive bucket.
  on_failure_bucket_arn = module.data_lake.bucket_arns["archive"]
  subnet_ids            = contains(local.vpc_stages, each.key) ? module.network.private_subnet_ids : []
  security_group_ids    = contains(local.vpc_stages, each.key) ? [module.workers.security_group_ids[each.value.service]] : []
  kms_key_arn           = module.keys.key_arn
  alarm_actions         = [module.monitoring.oncall_topic_arn]
  runbook_base_url      = var.runbook_base_url
  tags                  = var.tags

  depends_on = [aws_s3_object.settings]
}

# The search and aggregation store (slide 70): the indexer writes it, Airflow's reconciliation
# reads it; only their security groups reach it.
module "search" {
  source = "../search"
  count  = var.enable_search ? 1 : 0

  name       = var.name
  vpc_id     = module.network.vpc_id
  subnet_ids = module.network.private_subnet_ids
  client_security_group_ids = merge(
    module.workers.search_client_security_group_ids,
    { for o in module.orchestration : "airflow" => o.security_group_id },
    var.enable_review ? { review = module.review[0].security_group_id } : {},
  )
  kms_key_arn = module.keys.key_arn
  # The indexer hosts' role, and the indexer function's when the stage is on Lambda; the review
  # function's by instance and output, as the indexer's (its policy names the domain).
  writer_role_arns     = concat([module.workers.role_arns["indexer"]], contains(keys(local.lambda_stages), "indexer") ? [module.stream_lambda["indexer"].role_arn] : [])
  reader_role_arns     = [for o in module.orchestration : o.execution_role_arn]
  reviewer_role_arns   = var.enable_review ? [module.review[0].role_arn] : []
  admin_principal_arns = [module.workers.role_arns["indexer"]]
  retention_days       = var.search_retention_days
  create_timeout       = var.search_create_timeout
  alarm_actions        = [module.monitoring.oncall_topic_arn]
  runbook_base_url     = var.runbook_base_url
  tags                 = var.tags
}

# The domain's URL, where the indexer and Airflow read it (their settings hold only this name: the
# domain is made after their hosts). A String: a URL is no secret, and needs no kms:Decrypt.
resource "aws_ssm_parameter" "search_url" {
  # checkov:skip=CKV2_AWS_34: a URL inside the VPC, no secret; a SecureString would only add kms:Decrypt to its readers.
  count = var.enable_search ? 1 : 0

  name        = local.search_url_parameter
  description = "The search domain's HTTPS URL inside the VPC (the services' settings' search_url_parameter)."
  type        = "String"
  value       = one(module.search[*].url)
  tags        = var.tags
}

# The review API (issue 36): enterprise users search their messages and decide on them; a
# decision is audited in PostgreSQL, updates the search document, releases on the enterprise's
# action queue and becomes a review label in the archive bucket.
module "review" {
  source = "../review"
  count  = var.enable_review ? 1 : 0

  name                = var.name
  lambda_zip_path     = var.review_lambda_zip
  settings_uri        = "s3://${module.data_lake.archive_bucket}/${local.settings_key}"
  settings_object_arn = "${module.data_lake.bucket_arns["archive"]}/${local.settings_key}"
  action_queue_arns   = values(module.alerting.action_queue_arns)
  archive_bucket_arn  = module.data_lake.bucket_arns["archive"]
  # By instance and output, not module.search[*]: the domain's access policy names this role.
  search_domain_arn           = var.enable_search ? module.search[0].domain_arn : null
  search_url_parameter_arn    = local.search_url_parameter_arn
  database_resource_id        = one(module.database[*].resource_id)
  database_security_group_ids = [for d in module.database : d.security_group_id]
  vpc_id                      = module.network.vpc_id
  vpc_cidr                    = module.network.cidr_block
  subnet_ids                  = module.network.private_subnet_ids
  gateway_prefix_list_ids     = module.network.gateway_prefix_list_ids
  kms_key_arn                 = module.keys.key_arn
  alarm_actions               = [module.monitoring.oncall_topic_arn]
  runbook_base_url            = var.runbook_base_url
  tags                        = var.tags

  depends_on = [aws_s3_object.settings]
}

resource "aws_vpc_security_group_ingress_rule" "database_from_review" {
  count = var.enable_review && var.enable_database ? 1 : 0

  security_group_id            = module.database[0].security_group_id
  description                  = "PostgreSQL from the review API's function"
  referenced_security_group_id = module.review[0].security_group_id
  from_port                    = 5432
  to_port                      = 5432
  ip_protocol                  = "tcp"

  tags = var.tags
}

module "emr" {
  source = "../emr"
  count  = var.enable_emr ? 1 : 0

  name               = var.name
  bucket_prefix      = local.bucket_prefix
  kms_key_arn        = module.keys.key_arn
  landing_bucket_arn = module.data_lake.bucket_arns["landing"]
  scored_bucket_arn  = module.data_lake.bucket_arns["scored"]
  archive_bucket_arn = module.data_lake.bucket_arns["archive"]
  enforce_tls        = var.enforce_tls
  vpc_id             = module.network.vpc_id
  tags               = var.tags
}

module "database" {
  source = "../database"
  count  = var.enable_database ? 1 : 0

  name                      = var.name
  vpc_id                    = module.network.vpc_id
  subnet_ids                = module.network.private_subnet_ids
  client_security_group_ids = module.workers.database_client_security_group_ids
  kms_key_arn               = module.keys.key_arn
  instance_class            = var.db_instance_class
  multi_az                  = var.db_multi_az
  deletion_protection       = var.db_deletion_protection
  tags                      = var.tags
}

# The model's counters: the scorers read and count per batch, the Airflow host's nightly build
# writes the exact tiles and checks drift (its rule and grant below, outside both modules), the
# hourly job on EMR reads its hour's senders (through the clusters' own group, added to EMR's
# managed ones at each launch, and its nodes' role).
module "counters" {
  source = "../counters"
  count  = var.enable_counters ? 1 : 0

  name        = "${var.name}-counters"
  vpc_id      = module.network.vpc_id
  subnet_ids  = module.network.private_subnet_ids
  kms_key_arn = module.keys.key_arn
  node_type   = var.counters_node_type
  client_security_group_ids = merge(
    { scorer = module.workers.security_group_ids["scorer"] },
    { for e in module.emr : "emr" => e.cluster_security_group_id },
  )
  client_role_names = merge(
    { scorer = reverse(split("/", module.workers.role_arns["scorer"]))[0] },
    { for e in module.emr : "emr" => e.instance_role_name },
  )
  alarm_actions    = [module.monitoring.oncall_topic_arn]
  runbook_base_url = var.runbook_base_url
  tags             = var.tags
}

resource "aws_vpc_security_group_ingress_rule" "counters_from_airflow" {
  count = var.enable_counters && var.enable_orchestration ? 1 : 0

  security_group_id            = module.counters[0].security_group_id
  description                  = "Redis from the Airflow host (the nightly build's tiles, the drift check)"
  referenced_security_group_id = module.orchestration[0].security_group_id
  from_port                    = 6379
  to_port                      = 6379
  ip_protocol                  = "tcp"

  tags = var.tags
}

resource "aws_iam_role_policy" "counters_airflow" {
  count = var.enable_counters && var.enable_orchestration ? 1 : 0

  name   = "${var.name}-counters-connect"
  role   = reverse(split("/", module.orchestration[0].execution_role_arn))[0]
  policy = module.counters[0].connect_policy_json
}

module "orchestration" {
  source = "../orchestration"
  count  = var.enable_orchestration ? 1 : 0

  name                       = var.name
  bucket_prefix              = local.bucket_prefix
  ami_id                     = var.worker_ami_id
  instance_type              = var.airflow_instance_type
  vpc_id                     = module.network.vpc_id
  vpc_cidr                   = module.network.cidr_block
  subnet_ids                 = module.network.private_subnet_ids
  gateway_prefix_list_ids    = module.network.gateway_prefix_list_ids
  kms_key_arn                = module.keys.key_arn
  data_bucket_arns           = values(module.data_lake.bucket_arns)
  archive_bucket_arn         = module.data_lake.bucket_arns["archive"]
  emr_role_arns              = flatten([for emr in module.emr : [emr.service_role_arn, emr.instance_role_arn]])
  oncall_topic_arn           = module.monitoring.oncall_topic_arn
  database_secret_arn        = one(module.database[*].master_secret_arn)
  database_security_group_id = one(module.database[*].security_group_id)
  database_endpoint          = one(module.database[*].endpoint)
  database_resource_id       = one(module.database[*].resource_id)
  database_ca_bundle         = local.database_ca_bundle
  search_url_parameter_arn   = local.search_url_parameter_arn
  settings_json              = jsonencode(local.settings)
  pipeline_json              = var.enable_emr ? jsonencode({ mode = "emr", emr = local.emr }) : jsonencode({ mode = "local" })
  enforce_tls                = var.enforce_tls
  tags                       = var.tags
}

module "code" {
  source = "../code"
  count  = var.enable_orchestration ? 1 : 0

  checkout_dir   = var.checkout_dir
  dag_bucket     = one(module.orchestration[*].dag_bucket)
  archive_bucket = module.data_lake.archive_bucket
  settings_json  = jsonencode(local.settings)
  kms_key_arn    = module.keys.key_arn
  tags           = var.tags
}
