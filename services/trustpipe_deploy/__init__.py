"""The deploy: Terraform from Python, the worker image when its inputs changed (Packer), then
`terraform apply` of an environment's root. Run from a checkout, never installed on a worker."""
