"""What tests share: helpers, fakes, factories and the local stack's fixtures.

Test modules import from here and never from each other; nothing outside ``tests/`` imports it."""
