"""Operator CLI for the Personalize batch pipeline: start runs, watch them, see past runs.

Run as `python -m pipeline_cli --help`. Layout: `stages`, `names`, `formatting`, `outputs` are
pure; `aws` does all boto3 I/O; `render` does all rich output; `commands` wires them;
`__main__` parses arguments and maps errors to exit codes.
"""

__version__ = "0.1.0"
