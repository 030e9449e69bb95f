"""The stream-consumer package every stream worker uses: the Kinesis Client Library record
processor (at-least-once, checkpoint after processing) over the MultiLangDaemon."""
