# The review API (issue 36): enterprise users sign in to a Cognito user pool whose ID tokens carry
# their enterprise and role (custom attributes); an API Gateway HTTP API checks each token with a
# JWT authorizer (the pool's issuer, the app client's audience) and hands its claims to the
# review Lambda (trustpipe_review.lambda_handler.handler), which takes the enterprise from
# requestContext.authorizer.jwt.claims and from nowhere else. The function runs in the VPC's
# private subnets: it searches the search domain, appends decisions to PostgreSQL, sends releases
# on the enterprise's action queue and writes review labels to the archive bucket.
#
# WAF cannot be attached to an HTTP API (only to REST APIs, AppSync, CloudFront, ALBs and Cognito):
# the stage's throttling, a default rate and burst and tighter limits on the routes that act, is
# the rate limit the issue allows as WAF's equivalent; the JWT authorizer refuses unauthenticated
# requests before they cost a Lambda invocation.
locals {
  function_name = "${var.name}-review"
  labels_prefix = trimsuffix(var.labels_prefix, "/")
}

data "aws_region" "this" {}

data "aws_caller_identity" "this" {}

# -- who may sign in: the user pool and the page's app client ------------------------------------

resource "aws_cognito_user_pool" "this" {
  name                = local.function_name
  deletion_protection = var.deletion_protection ? "ACTIVE" : "INACTIVE"
  # Lite has what the review needs (custom attributes, TOTP, the JWT authorizer's tokens) and is
  # the cheapest per active user above the free 10,000 (trustpipe cost estimate prices it).
  user_pool_tier           = "LITE"
  username_attributes      = ["email"]
  auto_verified_attributes = ["email"]
  mfa_configuration        = "OPTIONAL"

  software_token_mfa_configuration {
    enabled = true
  }

  # No self sign-up: an enterprise's administrator (or the deploy) creates each user with their
  # enterprise, which nobody can change afterwards.
  admin_create_user_config {
    allow_admin_create_user_only = true
  }

  password_policy {
    minimum_length                   = var.password_minimum_length
    require_lowercase                = true
    require_uppercase                = true
    require_numbers                  = true
    require_symbols                  = true
    temporary_password_validity_days = 3
  }

  account_recovery_setting {
    recovery_mechanism {
      name     = "verified_email"
      priority = 1
    }
  }

  # The enterprise a user reviews for (trustpipe.tenants.ENTERPRISE_ID: 1-32 characters). Immutable:
  # set when the user is created, never moved to another enterprise.
  schema {
    name                     = "enterprise"
    attribute_data_type      = "String"
    mutable                  = false
    developer_only_attribute = false
    required                 = false

    string_attribute_constraints {
      min_length = 1
      max_length = 32
    }
  }

  # What the user may do (the review API's roles); an administrator changes it, never the user
  # (the app client cannot write it).
  schema {
    name                     = "role"
    attribute_data_type      = "String"
    mutable                  = true
    developer_only_attribute = false
    required                 = false

    string_attribute_constraints {
      min_length = 1
      max_length = 32
    }
  }

  tags = var.tags
}

# The review page's client: a browser holds no secret, so none. The page signs in with
# USER_PASSWORD_AUTH, straight from the browser to Cognito over TLS (the password never reaches
# the API or its function); SRP stays allowed for clients that speak it; refresh tokens.
resource "aws_cognito_user_pool_client" "this" {
  name                          = local.function_name
  user_pool_id                  = aws_cognito_user_pool.this.id
  generate_secret               = false
  explicit_auth_flows           = ["ALLOW_USER_PASSWORD_AUTH", "ALLOW_USER_SRP_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"]
  prevent_user_existence_errors = "ENABLED"
  enable_token_revocation       = true
  access_token_validity         = var.token_validity_minutes
  id_token_validity             = var.token_validity_minutes
  refresh_token_validity        = var.refresh_token_validity_days
  # The tokens carry the enterprise and role; a user may read them but change neither.
  read_attributes  = ["email", "email_verified", "custom:enterprise", "custom:role"]
  write_attributes = ["email"]

  token_validity_units {
    access_token  = "minutes"
    id_token      = "minutes"
    refresh_token = "days"
  }
}

# -- the function ----------------------------------------------------------------------------------

resource "aws_cloudwatch_log_group" "function" {
  name              = "/aws/lambda/${local.function_name}"
  retention_in_days = var.log_retention_days
  kms_key_id        = var.kms_key_arn

  tags = var.tags
}

data "aws_iam_policy_document" "assume" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["lambda.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "this" {
  name               = local.function_name
  assume_role_policy = data.aws_iam_policy_document.assume.json

  tags = var.tags
}

# Least privilege: what a decision does (a release on an action queue, a label under the review
# prefix, the search document), what a search reads, the settings, its own logs. The enterprise a
# request may touch is the token's, enforced by the app: IAM cannot see a caller's claims.
data "aws_iam_policy_document" "this" {
  statement {
    sid       = "ReleaseActions"
    actions   = ["sqs:SendMessage"]
    resources = var.action_queue_arns
  }

  statement {
    sid       = "ReviewLabels"
    actions   = ["s3:PutObject"]
    resources = ["${var.archive_bucket_arn}/${local.labels_prefix}/*"]
  }

  statement {
    sid       = "Settings"
    actions   = ["s3:GetObject"]
    resources = [var.settings_object_arn]
  }

  # The queues, the archive bucket and the settings object are encrypted with the pipeline's key.
  statement {
    sid       = "PipelineKey"
    actions   = ["kms:GenerateDataKey", "kms:Decrypt"]
    resources = [var.kms_key_arn]
  }

  statement {
    sid       = "FunctionLogs"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = ["${aws_cloudwatch_log_group.function.arn}:*"]
  }

  dynamic "statement" {
    for_each = var.search_domain_arn == null ? [] : [var.search_domain_arn]
    content {
      sid = "Search"
      # A search is a POST; a decision updates its message's document (POST _update).
      actions   = ["es:ESHttpGet", "es:ESHttpHead", "es:ESHttpPost"]
      resources = ["${statement.value}/*"]
    }
  }

  dynamic "statement" {
    for_each = var.search_url_parameter_arn == null ? [] : [var.search_url_parameter_arn]
    content {
      sid       = "SearchUrl"
      actions   = ["ssm:GetParameter"]
      resources = [statement.value]
    }
  }

  # Its own PostgreSQL role with an IAM token per connection (trustpipe.db.roles), never the
  # master user's secret, which only the one-shot migrations read.
  dynamic "statement" {
    for_each = var.database_resource_id == null ? [] : [var.database_resource_id]
    content {
      sid       = "Database"
      actions   = ["rds-db:connect"]
      resources = ["arn:aws:rds-db:${data.aws_region.this.name}:${data.aws_caller_identity.this.account_id}:dbuser:${statement.value}/${var.database_user}"]
    }
  }
}

resource "aws_iam_role_policy" "this" {
  name   = "review"
  role   = aws_iam_role.this.id
  policy = data.aws_iam_policy_document.this.json
}

# The function's network interfaces in the private subnets (ec2:CreateNetworkInterface and kin).
resource "aws_iam_role_policy_attachment" "vpc" {
  role       = aws_iam_role.this.name
  policy_arn = "arn:aws:iam::aws:policy/service-role/AWSLambdaVPCAccessExecutionRole"
}

# No inbound (API Gateway invokes the function through Lambda's API, not its network); out: HTTPS
# inside the VPC (the interface endpoints: SQS, SSM, KMS, logs; the search domain), S3 through its
# gateway endpoint, PostgreSQL to the database's group only. Inline rules, as the workers' groups
# have: the gateway endpoints' prefix lists are known only once they exist.
resource "aws_security_group" "this" {
  name        = local.function_name
  description = "trustpipe review API: no inbound; HTTPS to the VPC endpoints and the search domain, S3, PostgreSQL"
  vpc_id      = var.vpc_id

  egress {
    description = "HTTPS to the VPC endpoints and the search domain"
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

  dynamic "egress" {
    for_each = length(var.database_security_group_ids) > 0 ? [1] : []
    content {
      description     = "PostgreSQL"
      from_port       = 5432
      to_port         = 5432
      protocol        = "tcp"
      security_groups = var.database_security_group_ids
    }
  }

  tags = var.tags
}

resource "aws_lambda_function" "this" {
  # checkov:skip=CKV_AWS_116: invoked synchronously by API Gateway; a dead-letter queue only applies to asynchronous invocations.
  # checkov:skip=CKV_AWS_272: the zip is built from the repository by `make lambda`; code signing needs an account-level signing profile this module does not own.
  # checkov:skip=CKV_AWS_50: API Gateway's access log and the function's JSON log line per request cover a request; X-Ray on each costs more than it shows.

  function_name    = local.function_name
  role             = aws_iam_role.this.arn
  runtime          = var.lambda_runtime
  handler          = var.handler
  filename         = var.lambda_zip_path
  source_code_hash = filebase64sha256(var.lambda_zip_path)
  memory_size      = var.memory_mb
  timeout          = var.timeout_seconds
  # A cap, so a burst of reviewers (or a token's holder in a loop) cannot take the account's
  # concurrency; the stage's throttling refuses most of such a loop before it gets here.
  reserved_concurrent_executions = var.reserved_concurrency
  architectures                  = ["x86_64"]
  kms_key_arn                    = var.kms_key_arn

  environment {
    variables = {
      TRUSTPIPE_SETTINGS = var.settings_uri
      # The review page's sign-in: the pool's, here rather than in the pipeline's settings
      # object, which this module is made after.
      TRUSTPIPE_REVIEW_USER_POOL_ID = aws_cognito_user_pool.this.id
      TRUSTPIPE_REVIEW_CLIENT_ID    = aws_cognito_user_pool_client.this.id
    }
  }

  vpc_config {
    subnet_ids         = var.subnet_ids
    security_group_ids = [aws_security_group.this.id]
  }

  tags = var.tags

  depends_on = [aws_cloudwatch_log_group.function, aws_iam_role_policy.this, aws_iam_role_policy_attachment.vpc]
}

# -- the API -----------------------------------------------------------------------------------------

resource "aws_cloudwatch_log_group" "access" {
  name              = "/aws/apigateway/${local.function_name}"
  retention_in_days = var.log_retention_days
  kms_key_id        = var.kms_key_arn

  tags = var.tags
}

resource "aws_apigatewayv2_api" "this" {
  name          = local.function_name
  protocol_type = "HTTP"
  description   = "The review API: an enterprise's users search their mail and decide on it"

  tags = var.tags
}

# API Gateway verifies each token's signature against the pool's keys, its expiry, its issuer and
# that it was issued to the page's client (aud of an ID token), before the function runs.
resource "aws_apigatewayv2_authorizer" "this" {
  api_id           = aws_apigatewayv2_api.this.id
  name             = "cognito"
  authorizer_type  = "JWT"
  identity_sources = ["$request.header.Authorization"]

  jwt_configuration {
    issuer   = "https://${aws_cognito_user_pool.this.endpoint}"
    audience = [aws_cognito_user_pool_client.this.id]
  }
}

resource "aws_apigatewayv2_integration" "this" {
  api_id                 = aws_apigatewayv2_api.this.id
  integration_type       = "AWS_PROXY"
  integration_uri        = aws_lambda_function.this.invoke_arn
  payload_format_version = "2.0"
}

# Every route needs a valid token: a request without one is refused (401) by API Gateway.
resource "aws_apigatewayv2_route" "this" {
  for_each = toset(var.routes)

  api_id             = aws_apigatewayv2_api.this.id
  route_key          = each.value
  target             = "integrations/${aws_apigatewayv2_integration.this.id}"
  authorization_type = "JWT"
  authorizer_id      = aws_apigatewayv2_authorizer.this.id
}

# The review page itself: its HTML, its script and the pool's public sign-in configuration (the
# client id and Cognito's URL), none of it an enterprise's data. Fetched before anyone has a token.
resource "aws_apigatewayv2_route" "page" {
  # checkov:skip=CKV_AWS_309: the page's static files and public sign-in configuration are fetched before sign-in and hold no enterprise data; every data route is behind the JWT authorizer (aws_apigatewayv2_route.this).
  for_each = toset(var.page_routes)

  api_id             = aws_apigatewayv2_api.this.id
  route_key          = each.value
  target             = "integrations/${aws_apigatewayv2_integration.this.id}"
  authorization_type = "NONE"
}

resource "aws_apigatewayv2_stage" "this" {
  api_id      = aws_apigatewayv2_api.this.id
  name        = "$default"
  auto_deploy = true

  default_route_settings {
    throttling_rate_limit  = var.throttle_rate_limit
    throttling_burst_limit = var.throttle_burst_limit
  }

  # The default covers the read routes; the routes that act (decisions) are held tighter.
  dynamic "route_settings" {
    for_each = var.route_throttles
    content {
      route_key              = route_settings.key
      throttling_rate_limit  = route_settings.value.rate_limit
      throttling_burst_limit = route_settings.value.burst_limit
    }
  }

  access_log_settings {
    destination_arn = aws_cloudwatch_log_group.access.arn
    format = jsonencode({
      requestId = "$context.requestId", ip = "$context.identity.sourceIp", user = "$context.authorizer.claims.sub",
      routeKey  = "$context.routeKey", status = "$context.status", latency = "$context.responseLatency",
      error     = "$context.integrationErrorMessage", authError = "$context.authorizer.error"
    })
  }

  tags = var.tags

  lifecycle {
    precondition {
      condition     = alltrue([for key in keys(var.route_throttles) : contains(var.routes, key)])
      error_message = "Every key of route_throttles must be one of routes."
    }
  }

  # Per-route settings name routes that must exist first.
  depends_on = [aws_apigatewayv2_route.this, aws_apigatewayv2_route.page]
}

resource "aws_lambda_permission" "this" {
  statement_id  = "AllowApiGateway"
  action        = "lambda:InvokeFunction"
  function_name = aws_lambda_function.this.function_name
  principal     = "apigateway.amazonaws.com"
  source_arn    = "${aws_apigatewayv2_api.this.execution_arn}/*/*"
}

# -- alarms ------------------------------------------------------------------------------------------

locals {
  api_dimensions      = { ApiId = aws_apigatewayv2_api.this.id, Stage = "$default" }
  function_dimensions = { FunctionName = aws_lambda_function.this.function_name }
  alarms = {
    "5xx" = {
      description = "The review API answered 5xx in 2 of the last 5 minutes: reviewers cannot search or decide."
      namespace   = "AWS/ApiGateway"
      metric      = "5xx"
      statistic   = "Sum"
      percentile  = null
      threshold   = 0
      datapoints  = 2
      dimensions  = local.api_dimensions
      runbook     = "review-api-errors"
    }
    "4xx" = {
      description = "The review API answered more than ${var.client_error_threshold} 4xx a minute in 3 of the last 5: refused tokens (401), throttled callers (429) or a client sending bad requests."
      namespace   = "AWS/ApiGateway"
      metric      = "4xx"
      statistic   = "Sum"
      percentile  = null
      threshold   = var.client_error_threshold
      datapoints  = 3
      dimensions  = local.api_dimensions
      runbook     = "review-api-4xx"
    }
    latency-p99 = {
      description = "The review API's p99 latency was over ${var.latency_p99_ms} ms in 3 of the last 5 minutes: searches or decisions are slow."
      namespace   = "AWS/ApiGateway"
      metric      = "Latency"
      statistic   = null
      percentile  = "p99"
      threshold   = var.latency_p99_ms
      datapoints  = 3
      dimensions  = local.api_dimensions
      runbook     = "review-api-latency"
    }
    errors = {
      description = "The review function fails (unhandled errors, timeouts): reviewers get 5xx."
      namespace   = "AWS/Lambda"
      metric      = "Errors"
      statistic   = "Sum"
      percentile  = null
      threshold   = 0
      datapoints  = 2
      dimensions  = local.function_dimensions
      runbook     = "review-api-errors"
    }
    throttles = {
      description = "The review function is throttled at its reserved concurrency: reviewers get 5xx/429."
      namespace   = "AWS/Lambda"
      metric      = "Throttles"
      statistic   = "Sum"
      percentile  = null
      threshold   = 0
      datapoints  = 2
      dimensions  = local.function_dimensions
      runbook     = "review-api-throttles"
    }
  }
}

resource "aws_cloudwatch_metric_alarm" "this" {
  for_each = local.alarms

  alarm_name          = "${local.function_name}-${each.key}"
  alarm_description   = "${each.value.description} Runbook: ${var.runbook_base_url}/${each.value.runbook}.md"
  namespace           = each.value.namespace
  metric_name         = each.value.metric
  dimensions          = each.value.dimensions
  statistic           = each.value.statistic
  extended_statistic  = each.value.percentile
  period              = 60
  evaluation_periods  = 5
  datapoints_to_alarm = each.value.datapoints
  threshold           = each.value.threshold
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = var.alarm_actions
  ok_actions          = var.alarm_actions

  tags = var.tags
}
