"""Post-processing of Amazon Personalize batch inference output.

Modules:

- `flatten`  — pure, streaming, constant-memory conversion of one `.out` file (JSON lines) into
  a CSV and an errors JSON-lines file, for each output kind: user recommendations, related items,
  item-affinity and item-attribute-affinity segments (standard library only). Its parts: `kinds`
  (each kind's layout and CSV), `blocks` (whole-line blocks), `slow_path` (`json`, the reference),
  `fast_path` (in-place bytes parsing, checked against the slow path), `counts`.
- `s3io`     — bounded-memory S3 streaming: a resumable, prefetching reader and a multipart writer.
- `manifest` — pure aggregation of per-file results into the run manifest, and the named errors
  that make the state machine fail with a reason.
- `handler`  — the thin Lambda handlers `process_file`, `write_manifest`, `list_output_files`.

The package uses relative imports only, so it imports as `postprocess.handler` (Lambda asset
root `lambda_src/`) and as `lambda_src.postprocess.handler` (tests, from the repository root).
"""
