"""KubeRay deployment: manifests rendered from k8s/, applied and watched with the kubernetes client.

Ray-free: `kustomize` renders overlays, `sync` keeps k8s/ generated from serve_config.yaml and
the lock, `cluster` talks to the Kubernetes API, `cli` is `python -m topicserve k8s ...`.
"""
