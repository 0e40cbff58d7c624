"""Planning of a solution's batch jobs: how its batch input is split across Personalize jobs.

- `planning` — pure: files and limits in, jobs (input path, copies, output path, names) and the
  concurrency out.
- `handler`  — the thin Lambda handlers `plan_batch_jobs` (list, plan, write the plan to S3) and
  `place_job_input` (copy one job's files to its input prefix).

Relative imports within the package and `pipeline_contracts` (run layout, job names) only, as in
`postprocess`: the function's asset is this package plus those contracts, imported as
`batch_plan.handler`; tests import it as `lambda_src.batch_plan.handler`.
"""
