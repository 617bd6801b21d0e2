"""Model images: the build context, the Dockerfile, the build and push, the air-gapped base."""
