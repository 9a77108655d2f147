"""``ml-platform``: the one command for the platform.

Plan, train, serve, monitor, features, models, endpoints, pipelines, jobs, and the local platform.

It sits above both halves of the project: ``plan`` runs the Pulumi program offline
(``stacks``), the other commands run the workloads' code (``workloads``). Each half is imported
only by the subcommands that need it, so a machine with only one half installed still gets a
one-line error naming what to install instead of a traceback.
"""
