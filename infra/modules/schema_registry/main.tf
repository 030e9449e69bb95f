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

resource "aws_apigatewayv2_api" "this" {
  count = var.create_api ? 1 : 0

  name          = local.function_name
  protocol_type = "HTTP"
  description   = "Avro schema registry (Confluent Schema Registry REST API)"

  tags = var.tags
}

resource "aws_apigatewayv2_integration" "this" {
  count = var.create_api ? 1 : 0

  api_id                 = aws_apigatewayv2_api.this[0].id
  integration_type       = "AWS_PROXY"
  integration_uri        = aws_lambda_function.this[0].invoke_arn
  payload_format_version = "2.0"
}

# Callers sign requests with SigV4 (IAM authorization): only principals granted
# execute-api:Invoke on this API may use the registry.
resource "aws_apigatewayv2_route" "this" {
  for_each = var.create_api ? toset(["ANY /", "ANY /{proxy+}"]) : toset([])

  api_id             = aws_apigatewayv2_api.this[0].id
  route_key          = each.value
  target             = "integrations/${aws_apigatewayv2_integration.this[0].id}"
  authorization_type = "AWS_IAM"
}

resource "aws_apigatewayv2_stage" "this" {
  count = var.create_api ? 1 : 0

  api_id      = aws_apigatewayv2_api.this[0].id
  name        = "$default"
  auto_deploy = true

  default_route_settings {
    throttling_rate_limit  = var.throttle_rate_limit
    throttling_burst_limit = var.throttle_burst_limit
  }

  access_log_settings {
    destination_arn = aws_cloudwatch_log_group.access[0].arn
    format = jsonencode({
      requestId = "$context.requestId", ip = "$context.identity.sourceIp", caller = "$context.identity.caller",
      routeKey  = "$context.routeKey", status = "$context.status", latency = "$context.integrationLatency",
      error     = "$context.integrationErrorMessage"
    })
  }

  tags = var.tags
}

resource "aws_lambda_permission" "this" {
  count = var.create_api ? 1 : 0

  statement_id  = "AllowApiGateway"
  action        = "lambda:InvokeFunction"
  function_name = aws_lambda_function.this[0].function_name
  principal     = "apigateway.amazonaws.com"
  source_arn    = "${aws_apigatewayv2_api.this[0].execution_arn}/*/*"
}

locals {
  alarms = var.create_api ? {
    "5xx" = {
      description = "Schema registry answers 5xx: producers cannot register and consumers cannot fetch new ids."
      namespace   = "AWS/ApiGateway"
      metric      = "5xx"
      dimensions  = { ApiId = aws_apigatewayv2_api.this[0].id, Stage = "$default" }
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
