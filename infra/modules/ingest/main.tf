# The stream's ingestion front door: sensors POST batches to an HTTP API route with AWS_IAM
# authorization; API Gateway checks the SigV4 signature and hands the Lambda the caller's ARN;
# the Lambda (trustpipe_frontdoor) maps that sensor role to its enterprise and puts the records
# on the raw stream keyed by (that enterprise, message id). Sensors hold no Kinesis permission;
# their execute-api:Invoke on this route is granted with their roles (the tenants module).
locals {
  function_name = "${var.name}-frontdoor"
  # Who may call: each enterprise's sensor role (the tenant map's). Kept in S3, not in the
  # function's environment: Lambda's 4 KB of variables hold a few dozen enterprises at most.
  config = jsonencode({
    raw_stream_name = var.raw_stream_name
    sensor_roles    = var.sensor_role_arns
  })
  config_key = "config/frontdoor/tenants.json"
}

resource "aws_s3_object" "config" {
  bucket       = var.config_bucket
  key          = local.config_key
  content      = local.config
  content_type = "application/json"
  kms_key_id   = var.kms_key_arn

  tags = var.tags
}

resource "aws_cloudwatch_log_group" "this" {
  name              = "/aws/lambda/${local.function_name}"
  retention_in_days = var.log_retention_days
  kms_key_id        = var.kms_key_arn

  tags = var.tags
}

resource "aws_cloudwatch_log_group" "access" {
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
  name               = "${local.function_name}-lambda"
  assume_role_policy = data.aws_iam_policy_document.assume.json

  tags = var.tags
}

# Least privilege: PutRecords on the raw stream only (with the key its records are encrypted
# under), its own configuration object, its own log group.
data "aws_iam_policy_document" "this" {
  statement {
    sid       = "RawStream"
    actions   = ["kinesis:PutRecords"]
    resources = [var.raw_stream_arn]
  }

  statement {
    sid       = "Config"
    actions   = ["s3:GetObject"]
    resources = ["arn:aws:s3:::${var.config_bucket}/${local.config_key}"]
  }

  dynamic "statement" {
    for_each = var.kms_key_arn == null ? [] : [var.kms_key_arn]

    content {
      sid       = "StreamAndConfigKey"
      actions   = ["kms:GenerateDataKey", "kms:Decrypt"]
      resources = [statement.value]
    }
  }

  statement {
    sid       = "OwnLogs"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = ["${aws_cloudwatch_log_group.this.arn}:*"]
  }
}

resource "aws_iam_role_policy" "this" {
  name   = "frontdoor"
  role   = aws_iam_role.this.id
  policy = data.aws_iam_policy_document.this.json
}

resource "aws_lambda_function" "this" {
  # checkov:skip=CKV_AWS_116: invoked synchronously by API Gateway; a DLQ only applies to asynchronous invocations.
  # checkov:skip=CKV_AWS_117: the function reaches only Kinesis and S3; a VPC would add ENIs and cold-start latency on every sensor's path and no isolation it needs.
  # checkov:skip=CKV_AWS_173: the environment holds an S3 URI and a digest, nothing secret.
  # checkov:skip=CKV_AWS_272: the zip is built from the repository by `make lambda` in the deploy pipeline; code signing needs an account-level signing profile this module does not own.
  # checkov:skip=CKV_AWS_50: API Gateway's access log and the function's JSON log line per request cover it; X-Ray on every sensor batch costs more than it shows.

  function_name    = local.function_name
  role             = aws_iam_role.this.arn
  runtime          = var.lambda_runtime
  handler          = "trustpipe_frontdoor.handler.handler"
  filename         = var.lambda_zip_path
  source_code_hash = filebase64sha256(var.lambda_zip_path)
  memory_size      = var.lambda_memory_mb
  timeout          = var.lambda_timeout_seconds
  # A cap, so a sensor's retry storm cannot take the account's whole Lambda concurrency.
  reserved_concurrent_executions = var.lambda_reserved_concurrency
  architectures                  = ["x86_64"]

  environment {
    variables = {
      FRONTDOOR_CONFIG = "s3://${var.config_bucket}/${local.config_key}"
      # A changed tenant map changes the configuration, so new instances read the new map.
      FRONTDOOR_CONFIG_SHA256 = sha256(local.config)
    }
  }

  tags = var.tags

  depends_on = [aws_cloudwatch_log_group.this, aws_iam_role_policy.this, aws_s3_object.config]
}

resource "aws_apigatewayv2_api" "this" {
  name          = local.function_name
  protocol_type = "HTTP"
  description   = "The stream's ingestion front door: sensors POST record batches, stamped with their enterprise"

  tags = var.tags
}

resource "aws_apigatewayv2_integration" "this" {
  api_id                 = aws_apigatewayv2_api.this.id
  integration_type       = "AWS_PROXY"
  integration_uri        = aws_lambda_function.this.invoke_arn
  payload_format_version = "2.0"
}

# The only route. AWS_IAM: API Gateway verifies the SigV4 signature and that the caller may
# execute-api:Invoke it; the Lambda then trusts requestContext.authorizer.iam.userArn.
resource "aws_apigatewayv2_route" "this" {
  api_id             = aws_apigatewayv2_api.this.id
  route_key          = "POST /records"
  target             = "integrations/${aws_apigatewayv2_integration.this.id}"
  authorization_type = "AWS_IAM"
}

resource "aws_apigatewayv2_stage" "this" {
  api_id      = aws_apigatewayv2_api.this.id
  name        = "$default"
  auto_deploy = true

  default_route_settings {
    throttling_rate_limit  = var.throttle_rate_limit
    throttling_burst_limit = var.throttle_burst_limit
  }

  access_log_settings {
    destination_arn = aws_cloudwatch_log_group.access.arn
    format = jsonencode({
      requestId = "$context.requestId", ip = "$context.identity.sourceIp", caller = "$context.identity.userArn",
      routeKey  = "$context.routeKey", status = "$context.status", latency = "$context.integrationLatency",
      error     = "$context.integrationErrorMessage", authError = "$context.authorizer.error"
    })
  }

  tags = var.tags
}

resource "aws_lambda_permission" "this" {
  statement_id  = "AllowApiGateway"
  action        = "lambda:InvokeFunction"
  function_name = aws_lambda_function.this.function_name
  principal     = "apigateway.amazonaws.com"
  source_arn    = "${aws_apigatewayv2_api.this.execution_arn}/*/POST/records"
}

locals {
  alarms = {
    "5xx" = {
      description = "The front door answers 5xx: sensors' stream records are not reaching the raw stream."
      namespace   = "AWS/ApiGateway"
      metric      = "5xx"
      dimensions  = { ApiId = aws_apigatewayv2_api.this.id, Stage = "$default" }
    }
    throttles = {
      description = "The front door's Lambda is throttled: sensors get 5xx/429 and must resend."
      namespace   = "AWS/Lambda"
      metric      = "Throttles"
      dimensions  = { FunctionName = aws_lambda_function.this.function_name }
    }
    errors = {
      description = "The front door's Lambda fails (unhandled errors): sensors' batches are refused with 5xx."
      namespace   = "AWS/Lambda"
      metric      = "Errors"
      dimensions  = { FunctionName = aws_lambda_function.this.function_name }
    }
  }
}

resource "aws_cloudwatch_metric_alarm" "this" {
  for_each = local.alarms

  alarm_name          = "${local.function_name}-${each.key}"
  alarm_description   = "${each.value.description} Runbook: ${var.runbook_base_url}/ingest-front-door.md"
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
