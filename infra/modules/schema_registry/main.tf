# One table holds schemas, subject versions, config and the id counter (single-table design);
# conditional writes keep ids unique when several registry Lambdas register at once.
resource "aws_dynamodb_table" "this" {
  name         = "${var.name}-schema-registry"
  billing_mode = "PAY_PER_REQUEST"
  hash_key     = "pk"
  range_key    = "sk"

  attribute {
    name = "pk"
    type = "S"
  }

  attribute {
    name = "sk"
    type = "S"
  }

  point_in_time_recovery {
    enabled = true
  }

  server_side_encryption {
    enabled     = true
    kms_key_arn = var.kms_key_arn
  }

  tags = var.tags
}

locals {
  function_name = "${var.name}-schema-registry"
}

resource "aws_cloudwatch_log_group" "this" {
  count = var.create_api ? 1 : 0

  name              = "/aws/lambda/${local.function_name}"
  retention_in_days = var.log_retention_days
  kms_key_id        = var.kms_key_arn

  tags = var.tags
}

resource "aws_cloudwatch_log_group" "access" {
  count = var.create_api ? 1 : 0

  name              = "/aws/apigateway/${local.function_name}"
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
  count = var.create_api ? 1 : 0

  name               = "${local.function_name}-lambda"
  assume_role_policy = data.aws_iam_policy_document.assume.json

  tags = var.tags
}

# Least privilege: item operations on this table (TransactWriteItems is authorised per item
# action), and writing to this function's own log group (EMF metrics travel in the logs).
data "aws_iam_policy_document" "this" {
  statement {
    sid = "RegistryTable"
    actions = [
      "dynamodb:ConditionCheckItem",
      "dynamodb:DeleteItem",
      "dynamodb:GetItem",
      "dynamodb:PutItem",
      "dynamodb:Query",
      "dynamodb:UpdateItem",
    ]
    resources = [aws_dynamodb_table.this.arn]
  }

  statement {
    sid       = "OwnLogs"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = ["${try(aws_cloudwatch_log_group.this[0].arn, "")}:*"]
  }
}

resource "aws_iam_role_policy" "this" {
  count = var.create_api ? 1 : 0

  name   = "schema-registry"
  role   = aws_iam_role.this[0].id
  policy = data.aws_iam_policy_document.this.json
}

resource "aws_lambda_function" "this" {
  count = var.create_api ? 1 : 0
  # checkov:skip=CKV_AWS_116: invoked synchronously by API Gateway; a DLQ only applies to asynchronous invocations.
  # checkov:skip=CKV_AWS_117: the function reaches only DynamoDB; a VPC would add ENIs and cold-start latency on the registry's hot path and no isolation it needs.
  # checkov:skip=CKV_AWS_173: the environment holds the table and service names only, nothing secret.
  # checkov:skip=CKV_AWS_272: the zip is built from the repository by `make lambda` in the deploy pipeline; code signing needs an account-level signing profile this module does not own.
  # checkov:skip=CKV_AWS_50: Powertools logs and metrics cover the registry; X-Ray traces on every schema lookup cost more than they show.

  function_name    = local.function_name
  role             = aws_iam_role.this[0].arn
  runtime          = var.lambda_runtime
  handler          = "schema_registry_lambda.handler.handler"
  filename         = var.lambda_zip_path
  source_code_hash = filebase64sha256(var.lambda_zip_path)
  memory_size      = var.lambda_memory_mb
  timeout          = var.lambda_timeout_seconds
  # A cap, so a client's retry storm cannot take the account's whole Lambda concurrency.
  reserved_concurrent_executions = var.lambda_reserved_concurrency
  architectures                  = ["x86_64"]

  environment {
    variables = {
      REGISTRY_TABLE = aws_dynamodb_table.this.name
    }
  }

  tags = var.tags

  depends_on = [aws_cloudwatch_log_group.this, aws_iam_role_policy.this]
}

# A PRIVATE REST API: the workers run in private subnets with no internet path, and an HTTP API
# has only a public endpoint. Requests arrive through the VPC's execute-api interface endpoint
# (private DNS keeps the API's usual host name), signed with SigV4 (AWS_IAM on every method).
resource "aws_api_gateway_rest_api" "this" {
  count = var.create_api ? 1 : 0

  name        = local.function_name
  description = "Avro schema registry (Confluent Schema Registry REST API), private to the VPC"

  endpoint_configuration {
    types            = ["PRIVATE"]
    vpc_endpoint_ids = var.vpc_endpoint_ids
  }

  tags = var.tags

  lifecycle {
    create_before_destroy = true

    precondition {
      condition     = length(var.vpc_endpoint_ids) > 0
      error_message = "A private API needs the execute-api VPC endpoint it is reached through (vpc_endpoint_ids)."
    }
  }
}

# Where from: only through the VPC's endpoints. Who: the account's IAM policies (the workers'
# roles grant execute-api:Invoke on their own routes); naming the account delegates to them.
data "aws_iam_policy_document" "api" {
  count = var.create_api ? 1 : 0

  statement {
    sid       = "ThroughTheVpcEndpoint"
    actions   = ["execute-api:Invoke"]
    resources = ["${aws_api_gateway_rest_api.this[0].execution_arn}/*"]

    principals {
      type        = "AWS"
      identifiers = ["arn:${data.aws_partition.this.partition}:iam::${data.aws_caller_identity.this.account_id}:root"]
    }

    condition {
      test     = "StringEquals"
      variable = "aws:SourceVpce"
      values   = var.vpc_endpoint_ids
    }
  }

  statement {
    sid       = "NothingElse"
    effect    = "Deny"
    actions   = ["execute-api:Invoke"]
    resources = ["${aws_api_gateway_rest_api.this[0].execution_arn}/*"]

    principals {
      type        = "*"
      identifiers = ["*"]
    }

    condition {
      test     = "StringNotEquals"
      variable = "aws:SourceVpce"
      values   = var.vpc_endpoint_ids
    }
  }
}

data "aws_partition" "this" {}

data "aws_caller_identity" "this" {}

resource "aws_api_gateway_rest_api_policy" "this" {
  count = var.create_api ? 1 : 0

  rest_api_id = aws_api_gateway_rest_api.this[0].id
  policy      = data.aws_iam_policy_document.api[0].json
}

resource "aws_api_gateway_resource" "proxy" {
  count = var.create_api ? 1 : 0

  rest_api_id = aws_api_gateway_rest_api.this[0].id
  parent_id   = aws_api_gateway_rest_api.this[0].root_resource_id
  path_part   = "{proxy+}"
}

locals {
  # Every path goes to the Lambda, which routes it (Confluent's paths): `/` and `/{proxy+}`.
  api_resources = var.create_api ? {
    root  = aws_api_gateway_rest_api.this[0].root_resource_id
    proxy = aws_api_gateway_resource.proxy[0].id
  } : {}
}

resource "aws_api_gateway_method" "this" {
  for_each = local.api_resources
  # checkov:skip=CKV2_AWS_53: the Lambda validates every request (Confluent's error codes for a bad body); a request validator would answer in API Gateway's shape instead.

  rest_api_id   = aws_api_gateway_rest_api.this[0].id
  resource_id   = each.value
  http_method   = "ANY"
  authorization = "AWS_IAM"
}

resource "aws_api_gateway_integration" "this" {
  for_each = local.api_resources

  rest_api_id             = aws_api_gateway_rest_api.this[0].id
  resource_id             = each.value
  http_method             = aws_api_gateway_method.this[each.key].http_method
  type                    = "AWS_PROXY"
  integration_http_method = "POST"
  uri                     = aws_lambda_function.this[0].invoke_arn
}

resource "aws_api_gateway_deployment" "this" {
  count = var.create_api ? 1 : 0

  rest_api_id = aws_api_gateway_rest_api.this[0].id
  description = "schema registry"

  # A deployment is a snapshot: a changed method, integration or policy needs a new one.
  triggers = {
    redeployment = sha1(jsonencode([
      aws_api_gateway_method.this, aws_api_gateway_integration.this, aws_api_gateway_rest_api_policy.this,
    ]))
  }

  lifecycle {
    create_before_destroy = true
  }
}

# API Gateway writes a REST API's logs with one role per account and region (its account
# settings); an HTTP API needs none. manage_account_logging_role = false where the account has it.
data "aws_iam_policy_document" "apigateway_assume" {
  statement {
    actions = ["sts:AssumeRole"]

    principals {
      type        = "Service"
      identifiers = ["apigateway.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "apigateway_logs" {
  count = var.create_api && var.manage_account_logging_role ? 1 : 0

  name               = "${local.function_name}-apigateway-logs"
  assume_role_policy = data.aws_iam_policy_document.apigateway_assume.json

  tags = var.tags
}

resource "aws_iam_role_policy_attachment" "apigateway_logs" {
  count = var.create_api && var.manage_account_logging_role ? 1 : 0

  role       = aws_iam_role.apigateway_logs[0].name
  policy_arn = "arn:${data.aws_partition.this.partition}:iam::aws:policy/service-role/AmazonAPIGatewayPushToCloudWatchLogs"
}

resource "aws_api_gateway_account" "this" {
  count = var.create_api && var.manage_account_logging_role ? 1 : 0

  cloudwatch_role_arn = aws_iam_role.apigateway_logs[0].arn

  depends_on = [aws_iam_role_policy_attachment.apigateway_logs]
}

resource "aws_api_gateway_stage" "this" {
  count = var.create_api ? 1 : 0
  # checkov:skip=CKV_AWS_120: a cache would answer from API Gateway instead of the Lambda; clients cache every schema they fetch (RegistryClient), so the API sees few repeats.
  # checkov:skip=CKV_AWS_73: Powertools logs and metrics cover the registry; X-Ray traces on every schema lookup cost more than they show (as on the Lambda).
  # checkov:skip=CKV2_AWS_51: callers authenticate with SigV4 (AWS_IAM) through the VPC endpoint; client certificates would add a second credential to rotate.
  # checkov:skip=CKV2_AWS_29: a private API is reachable only through the VPC's endpoint; WAF (regional web ACLs) does not attach to private APIs.

  rest_api_id   = aws_api_gateway_rest_api.this[0].id
  deployment_id = aws_api_gateway_deployment.this[0].id
  stage_name    = var.stage_name

  access_log_settings {
    destination_arn = aws_cloudwatch_log_group.access[0].arn
    format = jsonencode({
      requestId = "$context.requestId", ip = "$context.identity.sourceIp", caller = "$context.identity.caller",
      vpce      = "$context.identity.vpceId", path = "$context.resourcePath", method = "$context.httpMethod",
      status    = "$context.status", latency = "$context.integrationLatency", error = "$context.integrationErrorMessage"
    })
  }

  tags = var.tags

  depends_on = [aws_api_gateway_account.this]
}

resource "aws_api_gateway_method_settings" "this" {
  count = var.create_api ? 1 : 0
  # checkov:skip=CKV_AWS_225: no cache: clients cache every schema they fetch (see the stage).

  rest_api_id = aws_api_gateway_rest_api.this[0].id
  stage_name  = aws_api_gateway_stage.this[0].stage_name
  method_path = "*/*"

  settings {
    throttling_rate_limit  = var.throttle_rate_limit
    throttling_burst_limit = var.throttle_burst_limit
    metrics_enabled        = true
    logging_level          = "ERROR"
  }
}

resource "aws_lambda_permission" "this" {
  count = var.create_api ? 1 : 0

  statement_id  = "AllowApiGateway"
  action        = "lambda:InvokeFunction"
  function_name = aws_lambda_function.this[0].function_name
  principal     = "apigateway.amazonaws.com"
  source_arn    = "${aws_api_gateway_rest_api.this[0].execution_arn}/*/*"
}

locals {
  alarms = var.create_api ? {
    "5xx" = {
      description = "Schema registry answers 5xx: producers cannot register and consumers cannot fetch new ids."
      namespace   = "AWS/ApiGateway"
      metric      = "5XXError"
      dimensions  = { ApiName = aws_api_gateway_rest_api.this[0].name, Stage = var.stage_name }
      runbook     = "registry-5xx"
    }
    throttles = {
      description = "Schema registry Lambda is throttled: registrations and id lookups fail with 5xx/429."
      namespace   = "AWS/Lambda"
      metric      = "Throttles"
      dimensions  = { FunctionName = aws_lambda_function.this[0].function_name }
      runbook     = "registry-throttles"
    }
  } : {}
}

resource "aws_cloudwatch_metric_alarm" "this" {
  for_each = local.alarms

  alarm_name          = "${local.function_name}-${each.key}"
  alarm_description   = "${each.value.description} Runbook: ${var.runbook_base_url}/${each.value.runbook}.md"
  namespace           = each.value.namespace
  metric_name         = each.value.metric
  dimensions          = each.value.dimensions
  statistic           = "Sum"
  period              = 60
  evaluation_periods  = 5
  datapoints_to_alarm = 2
  threshold           = 0
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = var.alarm_actions
  ok_actions          = var.alarm_actions

  tags = var.tags
}
