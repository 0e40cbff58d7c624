"""The run lease: at most one execution of the state machine works at a time (the overlap guard).

- `lease`   — pure: the lease an execution asks for, the verdict on the lease found (free, held by this
  execution, held by a running other, stale) and the acquire / release procedures over an injected store.
- `store`   — the lease item in its DynamoDB table: conditional put, conditional replace, consistent read,
  conditional delete.
- `handler` — the thin Lambda handlers `acquire` and `release`.

Relative imports only, so the package imports as `run_lease.handler` (Lambda asset root `lambda_src/`) and as
`lambda_src.run_lease.handler` (tests, from the repository root).
"""
