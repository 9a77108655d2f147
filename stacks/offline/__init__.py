"""Running the program without a cloud: the recording mock runtime, the plan and the manifests.

``mock_runtime`` runs the real program under Pulumi's mocks and records what it would create,
``plan`` is the command ``make plan`` runs over it, and ``rendered_manifests`` writes the files a
render-mode Kubernetes provider would write, from the recorded resources.
"""
