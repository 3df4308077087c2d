"""A local AWS (moto server on loopback) and the real CDK CLI deploying the app into it."""
