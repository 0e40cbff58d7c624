"""The model quality gate, the accepted-version store and the run's cost accounting.

Modules:

- `gate`    — pure: the rule, its validation, and the decision on a candidate solution version
  (accepted / rejected, the reason with both figures and the rule, the version the batch job uses).
- `store`   — the last accepted version and its history in a DynamoDB table (conditional writes, so
  an older run finishing last never replaces a newer acceptance).
- `costs`   — pure: Glue DPU-seconds from `GetJobRun`, a typed unit-price table with documented
  defaults, and a run's cost estimate with one line per item.
- `handler` — the thin Lambda handlers `evaluate`, `accept` and `account`.

Relative imports only, so the package imports as `model_gate.handler` (Lambda asset root
`lambda_src/`) and as `lambda_src.model_gate.handler` (tests, from the repository root).
"""
