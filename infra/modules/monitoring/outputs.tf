output "oncall_topic_arn" {
  description = "SNS topic that pages on-call: alarms and failed DAG tasks publish here."
  value       = try(aws_sns_topic.oncall.arn, null)
}

output "alarm_names" {
  description = "Names of the pipeline's alarms."
  value       = [aws_cloudwatch_metric_alarm.hourly_deadline.alarm_name]
}
