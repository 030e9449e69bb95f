"""The search and aggregation store (slide 70): every scored message indexed in OpenSearch for the
web app, from both paths, rebuildable from the lake."""
