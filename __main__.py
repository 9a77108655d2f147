"""Entry point that the Pulumi CLI runs for `pulumi up` / `pulumi preview`."""

from stacks.program import run_program

run_program()
