"""An Avro schema registry that speaks the Confluent Schema Registry REST API, on Lambda."""
