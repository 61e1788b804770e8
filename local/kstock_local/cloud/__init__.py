"""The template-driven local cloud: API Gateway (HTTP and WebSocket), EventBridge, SQS and Lambda
played on one machine, with moto underneath. Imports nothing at package level (the LocalStack
hook runs ``cloud.provision`` with only boto3 and PyYAML)."""
