"""The stream scorer: raw stream -> trust model -> scored stream, one process per leased shard."""
