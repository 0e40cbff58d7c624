"""The custom CloudWatch metrics of post-processing: what the handler publishes and the dashboard graphs.

The handler publishes them through Powertools as embedded metric format (EMF) records; Powertools adds the
service name (`POWERTOOLS_SERVICE_NAME`) as a dimension named `service`. A metric graphed under another
namespace, name or dimension is an empty line on the dashboard, not an error, so both sides spell them here.
"""

from __future__ import annotations

NAMESPACE = "PersonalizeBatchPipeline"
SERVICE_DIMENSION = "service"

LINES_PROCESSED = "LinesProcessed"
"""Lines of Personalize's batch output read by one `process_file` invocation."""
ERRORED_LINES = "ErroredLines"
"""Of those, the lines Personalize answered with an error."""

POSTPROCESS_METRICS: tuple[str, ...] = (LINES_PROCESSED, ERRORED_LINES)
