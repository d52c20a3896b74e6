"""Test doubles that speak real wire protocols (see `kube_api` for the Kubernetes API server)."""
