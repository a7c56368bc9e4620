"""Unit tier (`make test-fast`): no trained model, no servers, no browser; PostgreSQL cases are marked
`postgres` and left to `make test`."""
